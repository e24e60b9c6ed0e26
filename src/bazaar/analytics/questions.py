"""The questions `bazaar ask` answers: the four business questions, economy insights, and
the exploit detectors (exploits.py). Every answer is plain JSON data, the same whichever
engine computed it.

`at`: None answers "ever" (everything the lake holds). A moment T answers as of T: counts
take the trades executed up to T, and the "at any given time" questions (q3, q4) look only
at the states that existed at T, i.e. each player's latest state at or before T.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from bazaar.analytics.engines import Engine
from bazaar.analytics.sql import OneTo, SqlValue, render_stages
from bazaar.analytics.thresholds import ExploitThresholds
from bazaar.domain.clock import format_instant, parse_instant
from bazaar.domain.errors import AnalyticsError

# "Ever": a cut-off after any event (Spark's and DuckDB's timestamps both reach year 9999).
END_OF_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)

Json = Any  # what json.dumps accepts


@dataclass(frozen=True, slots=True)
class AskOptions:
    at: datetime | None = None
    limit: int = 10  # rows in "top" lists
    buckets: int = 12  # moments in "over time" series
    thresholds: ExploitThresholds = field(default_factory=ExploitThresholds)

    def params(self, **extra: SqlValue) -> dict[str, SqlValue]:
        return {"at": self.at or END_OF_TIME, "snapshot": self.at is not None, **extra}


def parse_at(text: str) -> datetime:
    """An ISO-8601 instant (`2026-05-01T12:00:00Z`, an offset, or a date); no zone = UTC."""
    try:
        return parse_instant(text.strip())
    except ValueError:
        raise AnalyticsError(
            f"--at expects an ISO-8601 instant such as 2026-05-01T12:00:00Z, got {text!r}"
        ) from None


def _plain(value: Any) -> Json:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # naive results are UTC: both engines run in UTC
            value = value.replace(tzinfo=UTC)
        return format_instant(value)
    if isinstance(value, Decimal):  # DuckDB sums int64 into 128-bit integers
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def rows(table: pa.Table) -> list[dict[str, Json]]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]


def run_query(engine: Engine, name: str, params: Mapping[str, SqlValue]) -> list[dict[str, Json]]:
    """The answer of `queries/<name>.sql`, its stages (sql.render_stages) computed first."""
    *stages, (_, answer) = render_stages(name, params)
    try:
        for stage, sql in stages:
            engine.stage(stage, sql)
        return rows(engine.query(answer))
    finally:
        for stage, _ in stages:
            engine.drop_stage(stage)


def _one(found: list[dict[str, Json]]) -> dict[str, Json] | None:
    return found[0] if found else None


def q1(engine: Engine, options: AskOptions) -> Json:
    row = run_query(engine, "q1_trades", options.params())[0]
    return {"trades": int(row["trades"] or 0), "rejected": int(row["rejected"] or 0)}


def q2(engine: Engine, options: AskOptions) -> Json:
    return _one(run_query(engine, "q2_top_item", options.params()))


def q3(engine: Engine, options: AskOptions) -> Json:
    return _one(run_query(engine, "q3_most_diverse", options.params()))


def q4(engine: Engine, options: AskOptions) -> Json:
    return _one(run_query(engine, "q4_most_valuable", options.params()))


def trades_per_hour(engine: Engine, options: AskOptions) -> Json:
    return run_query(engine, "trades_per_hour", options.params())


def item_velocity(engine: Engine, options: AskOptions) -> Json:
    return run_query(engine, "item_velocity", options.params())


def wealth_gini(engine: Engine, options: AskOptions) -> Json:
    n = max(1, options.buckets)
    found = run_query(engine, "wealth_gini", options.params(buckets=n, moments=OneTo(n)))
    for row in found:  # summed as doubles for the Gini; the totals are whole gold pieces
        for total in ("gold", "items_value"):
            if row[total] is not None:
                row[total] = round(row[total])
    return found


def top_traders(engine: Engine, options: AskOptions) -> Json:
    return run_query(engine, "top_traders", options.params(limit=max(1, options.limit)))


def trade_graph(engine: Engine, options: AskOptions) -> Json:
    row = run_query(engine, "trade_graph", options.params())[0]
    traders = int(row["traders"] or 0)
    edges = int(row["edges"] or 0)
    heaviest = None
    if row["heaviest_player_a"] is not None:
        heaviest = {
            "players": [row["heaviest_player_a"], row["heaviest_player_b"]],
            "trades": row["heaviest_trades"],
        }
    possible = traders * (traders - 1) // 2
    return {
        "players": int(row["players"] or 0),
        "traders": traders,
        "edges": edges,
        "trades": int(row["trades"] or 0),
        "trades_per_edge": row["trades_per_edge"],
        "mean_degree": 2 * edges / traders if traders else 0.0,
        "density": edges / possible if possible else 0.0,
        "heaviest_edge": heaviest,
    }


def _exploits(engine: Engine, options: AskOptions) -> Json:
    from bazaar.analytics.exploits import find_exploits

    return find_exploits(engine, options)


def _prices(engine: Engine, options: AskOptions) -> Json:
    from bazaar.analytics.prices import market_prices

    return market_prices(engine, options)


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    title: str
    answer: Callable[[Engine, AskOptions], Json]


QUESTIONS: dict[str, Question] = {
    q.id: q
    for q in (
        Question("q1", "How many trades occurred?", q1),
        Question("q2", "Which item changed hands in the most trades?", q2),
        Question("q3", "Which player held the most distinct items, and when?", q3),
        Question("q4", "Which player held the most valuable items, and when?", q4),
        Question("trades_per_hour", "Trades per hour", trades_per_hour),
        Question("item_velocity", "Item velocity (units moved / in existence)", item_velocity),
        Question("wealth_gini", "Inequality of gold and item wealth over time (Gini)", wealth_gini),
        Question("top_traders", "Most active traders", top_traders),
        Question("trade_graph", "Trade graph summary", trade_graph),
        Question("prices", "Market prices (median gold per unit sold)", _prices),
        Question("exploits", "Exploit detectors", _exploits),
    )
}


def resolve(names: Sequence[str]) -> list[str]:
    """Question ids in the order asked; `all` (or nothing) means every question."""
    if not names or "all" in names:
        return list(QUESTIONS)
    unknown = [n for n in names if n not in QUESTIONS]
    if unknown:
        known = ", ".join([*QUESTIONS, "all"])
        raise AnalyticsError(f"unknown question {unknown[0]!r}; known: {known}")
    return list(dict.fromkeys(names))


def ask(engine: Engine, names: Sequence[str], options: AskOptions | None = None) -> dict[str, Json]:
    """Answers keyed by question id."""
    options = options or AskOptions()
    return {qid: QUESTIONS[qid].answer(engine, options) for qid in resolve(names)}
