"""The analytics SQL: one `.sql` file per question, shared by every engine.

The files are written in the dialect DuckDB and Spark SQL both accept (each engine adds
what little the other lacks, see engines.py). Parameters appear as `$name` and are replaced
by literals rendered here from typed Python values only: nothing a user types reaches the
SQL text unparsed, so a bad `--at` is an error, never an injection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from string import Template

from bazaar.domain.errors import AnalyticsError


@dataclass(frozen=True, slots=True)
class OneTo:
    """The integers 1..n as a one-column relation `k` (DuckDB and Spark name `range`'s
    column differently, an inline VALUES list they both read the same)."""

    n: int


@dataclass(frozen=True, slots=True)
class Ids:
    """A list of integer ids for `x IN $ids` (an empty list matches nothing)."""

    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PriceList:
    """Per-unit prices by item, as a relation `prices(item_id, price)` (DOUBLE prices).

    Detectors value item lines at market prices computed by an earlier query; passing the
    few dozen prices back as an inline VALUES list keeps every detector one SQL text that
    both engines read the same."""

    prices: tuple[tuple[int, float], ...]


SqlValue = bool | int | float | datetime | OneTo | Ids | PriceList


@cache
def query_text(name: str) -> str:
    """The text of `queries/<name>.sql`."""
    try:
        return (
            resources.files("bazaar.analytics")
            .joinpath("queries", f"{name}.sql")
            .read_text("utf-8")
        )
    except (OSError, ValueError) as exc:
        raise AnalyticsError(f"no query named {name!r}") from exc


def literal(value: SqlValue) -> str:
    """A SQL literal for a typed value; timestamps are UTC (both engines run in UTC)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AnalyticsError(f"parameter must be a finite number, got {value}")
        return repr(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise AnalyticsError("timestamps passed to SQL must carry a time zone")
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return f"TIMESTAMP '{text}'"
    if isinstance(value, OneTo):
        if value.n < 1:
            raise AnalyticsError("a sequence needs at least one element")
        rows = ", ".join(f"({k})" for k in range(1, value.n + 1))
        return f"(VALUES {rows}) AS seq(k)"
    if isinstance(value, Ids):
        return "(" + (", ".join(str(int(v)) for v in value.values) or "NULL") + ")"
    if isinstance(value, PriceList):
        # An exponent makes a DOUBLE literal in both engines (a plain 1.5 is a DECIMAL).
        cells = [f"({int(i)}, {float(p):.17e})" for i, p in value.prices if math.isfinite(p)]
        if not cells:
            cells = ["(CAST(NULL AS BIGINT), CAST(NULL AS DOUBLE))"]
        return f"(VALUES {', '.join(cells)}) AS prices(item_id, price)"
    raise AnalyticsError(f"unsupported SQL parameter type {type(value).__name__}")


def string_literal(text: str) -> str:
    """A standard SQL string literal (quotes doubled), as DuckDB and Trino read it.

    Not a `literal` case on purpose: Spark SQL reads backslash escapes in string literals,
    so a text with a backslash would mean something else there, and the question files
    are shared with Spark. Engine-specific SQL (file paths, table locations) uses this."""
    return "'" + text.replace("'", "''") + "'"


STAGE_MARK = "-- @stage "


def render_stages(name: str, params: Mapping[str, SqlValue]) -> list[tuple[str, str]]:
    """`queries/<name>.sql` rendered, then cut at its `-- @stage NAME` lines: a list of
    (stage name, SELECT), the last one (named "") being the answer.

    Why stages: Spark inlines every CTE at each of its references, so a long chain of CTEs
    that are each read several times grows the plan exponentially (the optimiser runs out
    of memory). A stage is computed once and kept as a temporary relation (engines.py) that
    later stages and the answer read by name, on both engines."""
    text = render(name, params)
    stages: list[tuple[str, str]] = []
    current, lines = "", list[str]()
    for line in text.splitlines():
        if line.startswith(STAGE_MARK):
            if current or any(ln.strip() and not ln.startswith("--") for ln in lines):
                stages.append((current, "\n".join(lines)))
            current, lines = line[len(STAGE_MARK) :].strip(), []
        elif line.startswith("-- @answer"):
            stages.append((current, "\n".join(lines)))
            current, lines = "", list[str]()
        else:
            lines.append(line)
    stages.append((current, "\n".join(lines)))
    return stages


def render(name: str, params: Mapping[str, SqlValue]) -> str:
    """`queries/<name>.sql` with every `$param` replaced by its literal."""
    try:
        return Template(query_text(name)).substitute({k: literal(v) for k, v in params.items()})
    except KeyError as exc:
        raise AnalyticsError(f"query {name!r} needs parameter {exc.args[0]!r}") from None
    except ValueError as exc:  # a stray `$` in the file
        raise AnalyticsError(f"query {name!r}: {exc}") from None
