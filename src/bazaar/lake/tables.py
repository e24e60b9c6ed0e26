"""The lake's tables: their names, Arrow schemas, and rows -> Arrow conversion.

Rows are tuples in schema column order (`to_arrow` transposes them into Arrow columns).
Timestamps are carried as integer microseconds since the epoch and become `timestamp[us,
UTC]` there. What each event contributes is decided by the strict per-event decoder
(event_rows.py) and, for whole batches, the column-wise fast path (columnar.py) that must
agree with it. Contract: docs/LAKE.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from bazaar.domain.clock import EPOCH, micros
from bazaar.lake.fields import _ONE_US
from bazaar.lake.tables_economy import ADJUSTMENTS, ECONOMY_SCHEMAS
from bazaar.lake.tables_escrow import ESCROW_SCHEMAS
from bazaar.lake.tables_escrow import HOLDS as HOLDS  # re-exported: escrow changes

TIMESTAMP = pa.timestamp("us", tz="UTC")

PLAYERS = "players"
TRADES = "trades"
TRADE_ITEMS = "trade_items"
REJECTED_TRADES = "rejected_trades"
PLAYER_STATES = "player_states"
HOLDINGS = "holdings"
OFFERS = "offers"
DEAD_LETTERS = "dead_letters"


def _schema(*columns: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in columns])


_I, _S, _T = pa.int64(), pa.string(), TIMESTAMP
# `source` / `position` (added to the agreed layout): where the event was read from
# (`outbox`, or `kafka:TOPIC:PARTITION`) and its outbox seq / Kafka offset there. They let a
# restarted ingest rebuild its duplicate filter from the lake itself (see writer.py).
SCHEMAS: dict[str, pa.Schema] = {
    PLAYERS: _schema(
        ("player_id", _I, False),
        ("username", _S, False),
        ("player_class", _S, False),
        ("gold", _I, False),
        ("capacity", _I, False),
        ("created_at", _T, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
        ("source", _S, False),
        ("position", _I, False),
    ),
    TRADES: _schema(
        ("trade_id", _I, False),
        ("executed_at", _T, False),
        ("player_1_id", _I, False),
        ("player_2_id", _I, False),
        ("player_1_gold", _I, False),
        ("player_2_gold", _I, False),
        ("player_1_items_value", _I, False),
        ("player_2_items_value", _I, False),
        ("item_lines", _I, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
        ("source", _S, False),
        ("position", _I, False),
    ),
    TRADE_ITEMS: _schema(
        ("trade_id", _I, False),
        ("executed_at", _T, False),
        ("item_id", _I, False),
        ("giver_id", _I, False),
        ("receiver_id", _I, False),
        ("quantity", _I, False),
        ("unit_value", _I, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
    ),
    REJECTED_TRADES: _schema(
        ("trade_id", _I, False),
        ("executed_at", _T, False),
        ("reason", _S, False),
        ("detail", _S, True),
        ("player_1_id", _I, False),
        ("player_2_id", _I, False),
        ("player_1_gold", _I, False),
        ("player_2_gold", _I, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
        ("source", _S, False),
        ("position", _I, False),
    ),
    PLAYER_STATES: _schema(
        ("player_id", _I, False),
        ("version", _I, False),
        ("at", _T, False),
        ("gold", _I, False),
        ("distinct_items", _I, False),
        ("items_value", _I, False),
        ("items_held", _I, False),
        ("cause", _S, False),
        ("trade_id", _I, True),
        ("event_id", _S, False),
        ("event_date", _S, False),
    ),
    HOLDINGS: _schema(
        ("player_id", _I, False),
        ("item_id", _I, False),
        ("quantity", _I, False),
        ("version", _I, False),
        ("at", _T, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
    ),
    # One row per offer event (every status change of an offer); the trade an accept ran
    # lands through its own trade_* event in `trades` / `rejected_trades`.
    OFFERS: _schema(
        ("offer_id", _I, False),
        ("event_type", _S, False),
        ("status", _S, False),
        ("at", _T, False),
        ("created_at", _T, False),
        ("expires_at", _T, False),
        ("from_player_id", _I, False),
        ("to_player_id", _I, False),
        ("from_gold", _I, False),
        ("to_gold", _I, False),
        ("from_items_value", _I, True),
        ("to_items_value", _I, True),
        ("from_items", _S, False),
        ("to_items", _S, False),
        ("actor_player_id", _I, True),
        ("trade_id", _I, True),
        ("reason", _S, True),
        ("detail", _S, True),
        ("event_id", _S, False),
        ("event_date", _S, False),
        ("source", _S, False),
        ("position", _I, False),
    ),
    DEAD_LETTERS: _schema(
        ("received_at", _T, False),
        ("source", _S, False),
        ("position", _I, False),
        ("error", _S, False),
        ("raw", pa.binary(), False),
        ("event_date", _S, False),
    ),
}
SCHEMAS.update(ECONOMY_SCHEMAS)  # adjustments, adjustment_items, trade_fees
SCHEMAS.update(ESCROW_SCHEMAS)  # holds
TABLES: tuple[str, ...] = tuple(SCHEMAS)
# Every valid event has exactly one row in exactly one of these: the duplicate filter's memory.
PRIMARY_TABLES = (PLAYERS, TRADES, REJECTED_TRADES, OFFERS, ADJUSTMENTS)
PARTITION_COLUMN = "event_date"

Row = tuple[Any, ...]


def dead_letter_row(raw: bytes, source: str, position: int, error: str, received_at: int) -> Row:
    """A `dead_letters` row; `received_at` in microseconds since the epoch."""
    moment = EPOCH + received_at * _ONE_US
    return (received_at, source, position, error[:1000], raw, moment.date().isoformat())


def now_us() -> int:
    return micros(datetime.now(UTC))


def to_arrow(table: str, rows: Sequence[Row]) -> pa.Table:
    """Transpose rows into an Arrow table of `table`'s schema."""
    schema = SCHEMAS[table]
    if not rows:
        return schema.empty_table()
    columns: Iterable[tuple[Any, ...]] = zip(*rows, strict=True)
    arrays = []
    for f, values in zip(schema, columns, strict=True):
        if f.type == TIMESTAMP:
            arrays.append(pa.array(values, pa.int64()).cast(TIMESTAMP))
        else:
            arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def as_dicts(table: str, rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Rows as column -> value dicts (for reading and tests)."""
    names = SCHEMAS[table].names
    return [dict(zip(names, row, strict=True)) for row in rows]
