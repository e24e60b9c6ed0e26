"""Assembling each lake table from a batch's decoded payload columns, per event type.

The column-wise counterpart of `event_rows._player_created` / `_trade_accepted` /
`_trade_rejected`: same rows, same order within an event (player 1 before player 2), built
with Arrow compute kernels. Every table carries `EVENT_INDEX` (the event's index in the batch).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from bazaar.domain.events import PLAYER_CREATED, TRADE_ACCEPTED, TRADE_REJECTED
from bazaar.lake.tables import (
    HOLDINGS,
    PLAYER_STATES,
    PLAYERS,
    REJECTED_TRADES,
    SCHEMAS,
    TRADE_ITEMS,
    TRADES,
)

EVENT_INDEX = "__event"
_I = pa.int64()


def with_event_index(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field(EVENT_INDEX, pa.int64(), nullable=False))


SCHEMAS_WITH_INDEX = {table: with_event_index(schema) for table, schema in SCHEMAS.items()}


class Payload:
    """The payload fields of one event type: only the fields asked for are filtered out of
    the batch's payload struct (filtering the whole struct copies every type's fields)."""

    def __init__(self, payload: pa.ChunkedArray, mask: pa.ChunkedArray) -> None:
        self.payload, self.mask = payload, mask
        self.n = pc.sum(mask).as_py()

    def field(self, *path: str) -> pa.Array:
        values = pc.filter(pc.struct_field(self.payload, list(path)), self.mask)
        return values.combine_chunks()


Columns = dict[str, pa.Array | pa.ChunkedArray]


def _table(table: str, columns: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Table:
    return pa.Table.from_arrays(list(columns), schema=SCHEMAS_WITH_INDEX[table])


def _constant(value: str, n: int) -> pa.Array:
    return pa.array([value] * n, pa.string())


def _per_line(lists: pa.Array, *columns: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    """Each of `columns` (one value per row) repeated for every element of its row's list."""
    parents = pc.list_parent_indices(lists)
    return [pc.take(c, parents) for c in columns]


def _line_sum(lists: pa.Array, values: pa.Array) -> pa.Array:
    """Per row: the sum of `values` (one per list element) over the row's list."""
    lengths = pc.list_value_length(lists)
    zero = pa.array([0], pa.int64())
    ends = pa.concat_arrays([zero, pc.cumulative_sum(lengths.cast(pa.int64()))])
    totals = pa.concat_arrays([zero, pc.cumulative_sum(values)])
    n = len(lists)
    return pc.subtract(pc.take(totals, ends.slice(1, n)), pc.take(totals, ends.slice(0, n)))


def _players_created(p: Payload, e: Columns) -> dict[str, list[pa.Table]]:
    f = p.field
    player_id, gold, version = f("player_id"), f("gold"), f("version")
    out = {
        PLAYERS: [
            _table(PLAYERS, [
                player_id, f("username"), f("player_class"), gold, f("capacity"), e["at"],
                e["event_id"], e["event_date"], e["source"], e["position"], e["index"],
            ])
        ],
        PLAYER_STATES: [
            _table(PLAYER_STATES, [
                player_id, version, e["at"], gold, f("distinct_items"), f("items_value"),
                f("items_held"), _constant("created", p.n), pa.nulls(p.n, _I), e["event_id"],
                e["event_date"], e["index"],
            ])
        ],
    }  # fmt: skip
    items = f("items")
    held = pc.list_flatten(items)
    per = _per_line(items, player_id, version, e["at"], e["event_id"], e["event_date"], e["index"])
    out[HOLDINGS] = [
        _table(HOLDINGS, [per[0], held.field("item_id"), held.field("quantity"), *per[1:]])
    ]
    return out


def _trades_accepted(p: Payload, e: Columns) -> dict[str, list[pa.Table]]:
    trade_id = p.field("trade_id")
    sides = [p.field("player_1"), p.field("player_2")]
    ids = [s.field("player_id") for s in sides]
    given = [s.field("items") for s in sides]
    flats = [pc.list_flatten(g) for g in given]
    values = [
        _line_sum(g, pc.multiply(f.field("quantity"), f.field("value")))
        for g, f in zip(given, flats, strict=True)
    ]
    lines = pc.add(pc.list_value_length(given[0]), pc.list_value_length(given[1]))
    out: dict[str, list[pa.Table]] = {
        TRADES: [
            _table(TRADES, [
                trade_id, e["at"], ids[0], ids[1], sides[0].field("gold"),
                sides[1].field("gold"), values[0], values[1], lines.cast(_I), e["event_id"],
                e["event_date"], e["source"], e["position"], e["index"],
            ])
        ],
        TRADE_ITEMS: [],
        PLAYER_STATES: [],
        HOLDINGS: [],
    }  # fmt: skip
    cause = _constant("trade", p.n)
    for n, (giver, receiver) in enumerate(((ids[0], ids[1]), (ids[1], ids[0]))):
        flat, side = flats[n], sides[n]
        per = _per_line(
            given[n], trade_id, e["at"], giver, receiver, e["event_id"], e["event_date"],
            e["index"],
        )  # fmt: skip
        out[TRADE_ITEMS].append(
            _table(TRADE_ITEMS, [
                per[0], per[1], flat.field("item_id"), per[2], per[3], flat.field("quantity"),
                flat.field("value"), per[4], per[5], per[6],
            ])
        )  # fmt: skip
        version = side.field("version")
        out[PLAYER_STATES].append(
            _table(PLAYER_STATES, [
                ids[n], version, e["at"], side.field("gold_after"), side.field("distinct_items"),
                side.field("items_value"), side.field("items_held"), cause, trade_id,
                e["event_id"], e["event_date"], e["index"],
            ])
        )  # fmt: skip
        after = side.field("items_after")
        held = pc.list_flatten(after)
        per = _per_line(after, ids[n], version, e["at"], e["event_id"], e["event_date"], e["index"])
        out[HOLDINGS].append(
            _table(HOLDINGS, [per[0], held.field("item_id"), held.field("quantity"), *per[1:]])
        )
    return out


def _trades_rejected(p: Payload, e: Columns) -> dict[str, list[pa.Table]]:
    f = p.field
    return {
        REJECTED_TRADES: [
            _table(REJECTED_TRADES, [
                f("trade_id"), e["at"], f("reason"), f("detail"), f("player_1", "player_id"),
                f("player_2", "player_id"), f("player_1", "gold"), f("player_2", "gold"),
                e["event_id"], e["event_date"], e["source"], e["position"], e["index"],
            ])
        ]
    }  # fmt: skip


ASSEMBLERS = {
    PLAYER_CREATED: _players_created,
    TRADE_ACCEPTED: _trades_accepted,
    TRADE_REJECTED: _trades_rejected,
}
