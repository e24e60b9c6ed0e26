"""How a question is asked of an engine: the options every question takes (`AskOptions`),
the shape of an answer (`Json`, plain data), and `run_query`, which answers one
`queries/<name>.sql` file on either engine.

Kept below questions.py and the modules that answer one question each (prices.py,
exploits.py, economy.py, live.py) so that they import it, not one another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from bazaar.analytics.engines import Engine
from bazaar.analytics.sql import SqlValue, render_stages
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
