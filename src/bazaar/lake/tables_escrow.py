"""The lake's escrow table: `holds`, one row per change of what an offer holds in escrow.

An offer holds its creator's gives (docs/EVENTS.md "Escrow"). Its events say what changed:
`offer_created` carries `held`, every ending but an accept carries `released`, and
`offer_accepted` carries `moved` (what left escrow with the trade; an accept written before
`moved` existed moved exactly the creator's gives, `player_1`, which escrow holds). So the
rows of one offer sum to zero once it has ended, and `sum(quantity)` / `sum(value)` over
`holds` up to an instant is what escrow held then, per item (`item_id`) and in gold
(`item_id` 0, as in the conservation audit; catalog ids start at 1). Offer events from
before escrow carry no `held` and release nothing: they contribute no rows.

    holds   offer_id, player_id (the creator), item_id (0: gold), quantity (+ held,
            - released or moved), value (quantity in gold: the gold itself, or quantity x
            the catalog unit value the event carries; null when the item is not in the
            catalog), change (`held`, `released`, `moved`), reason (the offer event type),
            at, event_id, event_date, source, position
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from bazaar.lake.fields import _element, _int, _list, _obj, _optional

HOLDS = "holds"
GOLD = 0  # the item_id of a gold row

Row = tuple[Any, ...]
_I, _S, _T = pa.int64(), pa.string(), pa.timestamp("us", tz="UTC")

ESCROW_SCHEMAS: dict[str, pa.Schema] = {
    HOLDS: pa.schema(
        [
            pa.field("offer_id", _I, nullable=False),
            pa.field("player_id", _I, nullable=False),
            pa.field("item_id", _I, nullable=False),  # 0: the row is gold (catalog ids start at 1)
            pa.field("quantity", _I, nullable=False),  # signed: + held, - released / moved
            pa.field("value", _I, nullable=True),  # signed, in gold; null: item not in catalog
            pa.field("change", _S, nullable=False),  # held | released | moved
            pa.field("reason", _S, nullable=False),  # the offer event type
            pa.field("at", _T, nullable=False),
            pa.field("event_id", _S, nullable=False),
            pa.field("event_date", _S, nullable=False),
            pa.field("source", _S, nullable=False),
            pa.field("position", _I, nullable=False),
        ]
    )
}

# Which goods object of each offer event says what its escrow did, and how.
_CHANGE_OF = {
    "offer_created": ("held", "held", 1),
    "offer_accepted": ("moved", "moved", -1),
    "offer_declined": ("released", "released", -1),
    "offer_cancelled": ("released", "released", -1),
    "offer_expired": ("released", "released", -1),
    "offer_failed": ("released", "released", -1),
    "offer_countered": ("released", "released", -1),
}


def hold_rows(
    kind: str,
    p: dict[str, Any],
    at: int,
    ids: tuple[str, str],
    source: str,
    pos: int,
) -> list[Row]:
    """The `holds` rows of one offer event (`ids`: event id and date); none when the event
    changed no escrow (an offer made before escrow, or one giving nothing)."""
    w = "payload"
    key, change, sign = _CHANGE_OF[kind]
    creator = _obj(p, "player_1", w)
    if key in p:
        goods = _obj(p, key, w)
    elif kind == "offer_accepted":
        goods = creator  # written before `moved` existed: escrow held exactly these
    else:
        return []  # written before escrow existed
    where = f"{w}.{key if key in p else 'player_1'}"
    units: dict[int, int | None] = {}  # catalog unit value of each given item, as carried
    for x in _list(creator, "items", f"{w}.player_1"):
        line = _element(x, f"{w}.player_1")
        units[_int(line, "item_id", f"{w}.player_1")] = _optional(
            line, "value", int, f"{w}.player_1"
        )
    offer_id, player_id = _int(p, "offer_id", w), _int(creator, "player_id", f"{w}.player_1")
    eid, date = ids
    rows: list[Row] = []
    gold = _int(goods, "gold", where)
    if gold:
        rows.append(
            (offer_id, player_id, GOLD, sign * gold, sign * gold, change, kind, at, eid, date,
             source, pos)
        )  # fmt: skip
    for x in _list(goods, "items", where):
        line = _element(x, f"{where}.items")
        item_id, quantity = _int(line, "item_id", where), sign * _int(line, "quantity", where)
        unit = units.get(item_id)
        value = None if unit is None else quantity * unit
        rows.append(
            (offer_id, player_id, item_id, quantity, value, change, kind, at, eid, date,
             source, pos)
        )  # fmt: skip
    return rows
