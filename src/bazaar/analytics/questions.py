"""The questions `bazaar ask` answers: the four business questions, economy insights, and
the exploit detectors (exploits.py). Every answer is plain JSON data, the same whichever
engine computed it.

`at`: None answers "ever" (everything the lake holds). A moment T answers as of T: counts
take the trades executed up to T, and the "at any given time" questions (q3, q4) look only
at the states that existed at T, i.e. each player's latest state at or before T.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bazaar.analytics.asking import AskOptions, Json, run_query
from bazaar.analytics.economy_question import economy
from bazaar.analytics.engines import Engine
from bazaar.analytics.exploits import find_exploits
from bazaar.analytics.prices import market_prices
from bazaar.analytics.sql import OneTo
from bazaar.domain.errors import AnalyticsError


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
        Question("prices", "Market prices (median gold per unit sold)", market_prices),
        Question("exploits", "Exploit detectors", find_exploits),
        Question(
            "economy",
            "Faucets and sinks, money supply and inflation, offer funnel, escrow now and over time",
            economy,
        ),
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
