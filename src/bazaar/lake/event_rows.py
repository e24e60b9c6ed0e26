"""The strict per-event decoder: the exact outbox bytes of one event -> its rows per table.

`event_rows` turns one event into the rows it contributes to each table, or raises
`MalformedEvent` when the bytes are not a well-formed event of a known type; the writer then
lands the bytes in `dead_letters` instead. Validation is complete before any row is produced,
so an event contributes all of its rows or none. Ingest decodes whole batches column-wise
(columnar.py); `event_rows` is the reference it must agree with and the fallback for every
event it does not vouch for. Contract: docs/LAKE.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from bazaar.codec import MalformedEvent, decode_document
from bazaar.domain.events import (
    ADJUSTMENT_EVENT_TYPES,
    PLAYER_CREATED,
    TRADE_ACCEPTED,
    TRADE_REJECTED,
)
from bazaar.domain.offers import OFFER_EVENT_TYPES
from bazaar.lake.fields import (
    _element,
    _instant,
    _int,
    _list,
    _obj,
    _optional,
    _quantities,
    _str,
    _summary,
)
from bazaar.lake.tables import (
    HOLDINGS,
    OFFERS,
    PLAYER_STATES,
    PLAYERS,
    REJECTED_TRADES,
    TRADE_ITEMS,
    TRADES,
    Row,
)
from bazaar.lake.tables_economy import TRADE_FEES, adjustment_rows, fee_rows
from bazaar.lake.tables_escrow import HOLDS, hold_rows


@dataclass(slots=True)
class EventRows:
    """What one event contributes to the lake."""

    event_id: str
    event_date: str
    rows: dict[str, list[Row]] = field(default_factory=dict)


def event_rows(raw: bytes, source: str, position: int) -> EventRows:
    """The rows one event contributes to each table (empty tables omitted)."""
    doc = decode_document(raw)
    event_id = _str(doc, "event_id", "envelope")
    if not event_id:
        raise MalformedEvent("envelope.event_id: empty")
    event_type = _str(doc, "event_type", "envelope")
    version = _int(doc, "schema_version", "envelope")
    if version != 1:
        raise MalformedEvent(f"envelope.schema_version: unsupported version {version}")
    at, date = _instant(doc.get("occurred_at"), "envelope.occurred_at")
    payload = _obj(doc, "payload", "envelope")
    out = EventRows(event_id, date)
    if event_type == PLAYER_CREATED:
        _player_created(payload, at, out, source, position)
    elif event_type == TRADE_ACCEPTED:
        _trade_accepted(payload, at, out, source, position)
    elif event_type == TRADE_REJECTED:
        _trade_rejected(payload, at, out, source, position)
    elif event_type in OFFER_EVENT_TYPES:
        _offer_event(event_type, payload, at, out, source, position)
    elif event_type in ADJUSTMENT_EVENT_TYPES:
        ids = (out.event_id, out.event_date)
        out.rows.update(adjustment_rows(event_type, payload, at, ids, source, position))
    else:
        raise MalformedEvent(f"envelope.event_type: unknown type {event_type[:40]!r}")
    return out


def _player_created(p: dict[str, Any], at: int, out: EventRows, source: str, pos: int) -> None:
    w = "payload"
    player_id = _int(p, "player_id", w)
    gold = _int(p, "gold", w)
    items = _quantities(_list(p, "items", w), f"{w}.items")
    version, distinct, value, held = _summary(p, w)
    eid, date = out.event_id, out.event_date
    out.rows[PLAYERS] = [
        (
            player_id,
            _str(p, "username", w),
            _str(p, "player_class", w),
            gold,
            _int(p, "capacity", w),
            at,
            eid,
            date,
            source,
            pos,
        )
    ]
    out.rows[PLAYER_STATES] = [
        (player_id, version, at, gold, distinct, value, held, "created", None, eid, date)
    ]
    if items:
        out.rows[HOLDINGS] = [(player_id, i, q, version, at, eid, date) for i, q in items]


def _gives(side: dict[str, Any], where: str) -> tuple[int, int, list[tuple[int, int, int]]]:
    """(player id, gold given, [(item id, quantity, unit value)]) of an accepted side."""
    lines = []
    for x in _list(side, "items", where):
        line = _element(x, where)
        lines.append(
            (
                _int(line, "item_id", where),
                _int(line, "quantity", where),
                _int(line, "value", where),
            )
        )
    return _int(side, "player_id", where), _int(side, "gold", where), lines


def _trade_accepted(p: dict[str, Any], at: int, out: EventRows, source: str, pos: int) -> None:
    trade_id = _int(p, "trade_id", "payload")
    sides = [_obj(p, "player_1", "payload"), _obj(p, "player_2", "payload")]
    gives = [_gives(s, f"payload.player_{n}") for n, s in enumerate(sides, 1)]
    after = [
        (
            _int(s, "gold_after", f"payload.player_{n}"),
            _summary(s, f"payload.player_{n}"),
            _quantities(_list(s, "items_after", f"payload.player_{n}"), f"payload.player_{n}"),
        )
        for n, s in enumerate(sides, 1)
    ]
    eid, date = out.event_id, out.event_date
    (id_1, gold_1, lines_1), (id_2, gold_2, lines_2) = gives
    out.rows[TRADES] = [
        (
            trade_id,
            at,
            id_1,
            id_2,
            gold_1,
            gold_2,
            sum(q * v for _, q, v in lines_1),
            sum(q * v for _, q, v in lines_2),
            len(lines_1) + len(lines_2),
            eid,
            date,
            source,
            pos,
        )
    ]
    items = [(trade_id, at, i, id_1, id_2, q, v, eid, date) for i, q, v in lines_1]
    items += [(trade_id, at, i, id_2, id_1, q, v, eid, date) for i, q, v in lines_2]
    if items:
        out.rows[TRADE_ITEMS] = items
    states, holdings = [], []
    for player_id, (gold, (version, distinct, value, held), touched) in zip(
        (id_1, id_2), after, strict=True
    ):
        states.append(
            (player_id, version, at, gold, distinct, value, held, "trade", trade_id, eid, date)
        )
        holdings += [(player_id, i, q, version, at, eid, date) for i, q in touched]
    out.rows[PLAYER_STATES] = states
    if holdings:
        out.rows[HOLDINGS] = holdings
    fees = fee_rows(p, at, (eid, date))
    if fees:
        out.rows[TRADE_FEES] = fees


def _trade_rejected(p: dict[str, Any], at: int, out: EventRows, source: str, pos: int) -> None:
    w = "payload"
    detail = p.get("detail")
    if detail is not None and not isinstance(detail, str):
        raise MalformedEvent("payload.detail: expected a string or null")
    one, two = _obj(p, "player_1", w), _obj(p, "player_2", w)
    out.rows[REJECTED_TRADES] = [
        (
            _int(p, "trade_id", w),
            at,
            _str(p, "reason", w),
            detail,
            _int(one, "player_id", "payload.player_1"),
            _int(two, "player_id", "payload.player_2"),
            _int(one, "gold", "payload.player_1"),
            _int(two, "gold", "payload.player_2"),
            out.event_id,
            out.event_date,
            source,
            pos,
        )
    ]


# The status each offer event moves its offer to, and what it must carry beyond the common
# fields: the strict decoder refuses an event whose status contradicts its type.
_OFFER_STATUS = {
    "offer_created": "open",
    "offer_accepted": "accepted",
    "offer_declined": "declined",
    "offer_cancelled": "cancelled",
    "offer_expired": "expired",
    "offer_failed": "failed",
    "offer_countered": "countered",
}
assert set(_OFFER_STATUS) == set(OFFER_EVENT_TYPES)


def _offered(side: dict[str, Any], where: str) -> tuple[int, int, int | None, str]:
    """(player id, gold, items value or None when a line's value is unknown, the item lines
    as compact JSON) of one side of an offer."""
    lines, value = [], 0
    known = True
    for x in _list(side, "items", where):
        line = _element(x, where)
        item_id, quantity = _int(line, "item_id", where), _int(line, "quantity", where)
        unit = _optional(line, "value", int, where)
        if unit is None:
            known = False
        else:
            value += quantity * unit
        lines.append({"item_id": item_id, "quantity": quantity, "value": unit})
    text = orjson.dumps(lines).decode()
    return _int(side, "player_id", where), _int(side, "gold", where), value if known else None, text


def _offer_event(
    kind: str, p: dict[str, Any], at: int, out: EventRows, source: str, pos: int
) -> None:
    w = "payload"
    status = _str(p, "status", w)
    if status != _OFFER_STATUS[kind]:
        raise MalformedEvent(f"{w}.status: {status[:20]!r} contradicts event_type {kind}")
    from_id, from_gold, from_value, from_items = _offered(_obj(p, "player_1", w), f"{w}.player_1")
    to_id, to_gold, to_value, to_items = _offered(_obj(p, "player_2", w), f"{w}.player_2")
    trade_id = _optional(p, "trade_id", int, w)
    if kind in ("offer_accepted", "offer_failed") and trade_id is None:
        raise MalformedEvent(f"{w}.trade_id: required on {kind}")
    reason = _optional(p, "reason", str, w)
    if kind == "offer_failed" and reason is None:
        raise MalformedEvent(f"{w}.reason: required on {kind}")
    out.rows[OFFERS] = [
        (
            _int(p, "offer_id", w),
            kind,
            status,
            at,
            _instant(p.get("created_at"), f"{w}.created_at")[0],
            _instant(p.get("expires_at"), f"{w}.expires_at")[0],
            from_id,
            to_id,
            from_gold,
            to_gold,
            from_value,
            to_value,
            from_items,
            to_items,
            _optional(p, "actor_player_id", int, w),
            trade_id,
            reason,
            _optional(p, "detail", str, w),
            out.event_id,
            out.event_date,
            source,
            pos,
        )
    ]
    holds = hold_rows(kind, p, at, (out.event_id, out.event_date), source, pos)
    if holds:
        out.rows[HOLDS] = holds
