"""Domain events and their envelope: the contract every downstream consumer reads.

Payloads carry what the analytics needs and nothing a client sent unvalidated: names and
values come from the server's catalog and state, never from request headers or bodies.
Field by field documentation: docs/EVENTS.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import mul
from typing import Any

from bazaar.domain.catalog import Catalog
from bazaar.domain.model import ItemLine, PlayerState, TradeSide
from bazaar.domain.trading import Accepted, Rejected

SCHEMA_VERSION = 1

PLAYER_CREATED = "player_created"
TRADE_ACCEPTED = "trade_accepted"
TRADE_REJECTED = "trade_rejected"
# Offer event types live here, beside the others, so the published contract
# (stream/contract.py) lists every type from one place; domain/offers.py builds them.
OFFER_CREATED = "offer_created"
OFFER_ACCEPTED = "offer_accepted"
OFFER_DECLINED = "offer_declined"
OFFER_CANCELLED = "offer_cancelled"
OFFER_EXPIRED = "offer_expired"
OFFER_FAILED = "offer_failed"
OFFER_COUNTERED = "offer_countered"
OFFER_EVENT_TYPES = (
    OFFER_CREATED,
    OFFER_ACCEPTED,
    OFFER_DECLINED,
    OFFER_CANCELLED,
    OFFER_EXPIRED,
    OFFER_FAILED,
    OFFER_COUNTERED,
)
# Faucets and sinks (domain/grants.py builds them): the server adds to or takes from one
# player's goods, outside any trade.
GOODS_GRANTED = "goods_granted"
GOODS_CONSUMED = "goods_consumed"
ADJUSTMENT_EVENT_TYPES = (GOODS_GRANTED, GOODS_CONSUMED)
EVENT_TYPES = (
    PLAYER_CREATED,
    TRADE_ACCEPTED,
    TRADE_REJECTED,
    *OFFER_EVENT_TYPES,
    *ADJUSTMENT_EVENT_TYPES,
)


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    event_type: str
    occurred_at: str
    payload: Mapping[str, Any]
    schema_version: int = SCHEMA_VERSION

    @property
    def key(self) -> str:
        """The player whose ordering this event belongs to (player_1 for trades)."""
        payload = self.payload
        if "player_id" in payload:
            return str(payload["player_id"])
        return str(payload["player_1"]["player_id"])

    def to_document(self) -> dict[str, Any]:
        return envelope(
            self.event_id, self.event_type, self.occurred_at, self.payload, self.schema_version
        )

    @staticmethod
    def from_document(doc: Mapping[str, Any]) -> Event:
        return Event(
            event_id=str(doc["event_id"]),
            event_type=str(doc["event_type"]),
            occurred_at=str(doc["occurred_at"]),
            payload=doc["payload"],
            schema_version=int(doc["schema_version"]),
        )


def envelope(
    event_id: str,
    event_type: str,
    occurred_at: str,
    payload: Mapping[str, Any],
    schema_version: int = SCHEMA_VERSION,
) -> dict[str, Any]:
    """An event's document. Its key order is part of the byte contract; a store that
    renders trade events without an Event object (SQLite's trade path) uses this too."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": schema_version,
        "occurred_at": occurred_at,
        "payload": payload,
    }


def player_created(catalog: Catalog, state: PlayerState, *, event_id: str) -> Event:
    return Event(
        event_id=event_id,
        event_type=PLAYER_CREATED,
        occurred_at=state.created_at,
        payload={
            "player_id": state.player_id,
            "username": state.username,
            "player_class": state.player_class,
            "gold": state.gold,
            "capacity": state.capacity,
            "items": [{"item_id": i, "quantity": q} for i, q in sorted(state.items.items())],
            "version": state.version,
            **_summary(catalog, state),
        },
    )


def _summary(catalog: Catalog, state: PlayerState) -> dict[str, int]:
    """Whole-inventory figures after the change, so "most diverse / most valuable at any
    time" is a scan of one row per state instead of a replay of every item change."""
    items = state.items
    return {
        "distinct_items": len(items),
        "items_value": _value(catalog, items),
        "items_held": sum(items.values()),
    }


def _value(catalog: Catalog, items: Mapping[int, int]) -> int:
    # map/sum run in C: this sums every held stack twice per accepted trade.
    return sum(map(mul, items.values(), map(catalog.values.get, items, repeat(0))))


def _gives(catalog: Catalog, side: TradeSide) -> dict[str, Any]:
    values = catalog.values  # an unknown item (rejected trades only) has value null
    lines = [
        {"item_id": line.item_id, "quantity": line.quantity, "value": values.get(line.item_id)}
        for line in side.items
    ]
    return {"player_id": side.player_id, "gold": side.gold, "items": lines}


def _touched(side: TradeSide, other: TradeSide) -> list[int]:
    touched = [line.item_id for line in side.items]
    touched.extend(line.item_id for line in other.items)
    return sorted(set(touched))


def _accepted(catalog: Catalog, outcome: Accepted) -> dict[str, Any]:
    """Each side: what it gave, and its state after for every item the trade touched,
    so the lake can rebuild any player's inventory at any instant from events alone."""
    one, two = outcome.request.player_1, outcome.request.player_2
    touched = _touched(one, two)
    side_1 = _side_after(catalog, one, outcome.player_1, touched)
    side_2 = _side_after(catalog, two, outcome.player_2, touched)
    if outcome.fee_1:  # only under serve --trade-fee-bps: the bytes of fee-less trades stay
        side_1["fee"] = outcome.fee_1
    if outcome.fee_2:
        side_2["fee"] = outcome.fee_2
    return {"trade_id": outcome.trade_id, "player_1": side_1, "player_2": side_2}


def side_after_fields(
    catalog: Catalog, gold: int, items: Iterable[ItemLine], state: PlayerState, touched: list[int]
) -> dict[str, Any]:
    """What one player gave or got and its state after, in a trade side's key order: a
    grant's and a consumption's payload share it, so consumers read them alike."""
    values = catalog.values
    held = state.items
    return {
        "gold": gold,
        "items": [
            {"item_id": line.item_id, "quantity": line.quantity, "value": values.get(line.item_id)}
            for line in items
        ],
        "gold_after": state.gold,
        "version": state.version,
        "items_after": [{"item_id": i, "quantity": held.get(i, 0)} for i in sorted(touched)],
        "distinct_items": len(held),
        "items_value": _value(catalog, held),
        "items_held": sum(held.values()),
    }


def _side_after(
    catalog: Catalog, side: TradeSide, state: PlayerState, touched: list[int]
) -> dict[str, Any]:
    # _gives + state after + _summary in one dict literal: this runs twice per accepted
    # trade, and the keys must stay in exactly this order (the body's bytes are a contract).
    values = catalog.values
    held = state.items
    return {
        "player_id": side.player_id,
        "gold": side.gold,
        "items": [
            {"item_id": line.item_id, "quantity": line.quantity, "value": values.get(line.item_id)}
            for line in side.items
        ],
        "gold_after": state.gold,
        "version": state.version,
        "items_after": [{"item_id": i, "quantity": held.get(i, 0)} for i in touched],
        "distinct_items": len(held),
        "items_value": _value(catalog, held),
        "items_held": sum(held.values()),
    }


def _rejected(catalog: Catalog, outcome: Rejected) -> dict[str, Any]:
    return {
        "trade_id": outcome.trade_id,
        "reason": outcome.reason.value,
        "detail": outcome.detail,
        "player_1": _gives(catalog, outcome.request.player_1),
        "player_2": _gives(catalog, outcome.request.player_2),
    }


def trade_event(catalog: Catalog, outcome: Accepted | Rejected, *, event_id: str) -> Event:
    event_type, payload = trade_payload(catalog, outcome)
    return Event(event_id, event_type, outcome.executed_at, payload)


def trade_payload(catalog: Catalog, outcome: Accepted | Rejected) -> tuple[str, dict[str, Any]]:
    """The type and payload of a trade's event, for a store that renders the envelope
    itself (its key is player_1's id, its time the trade's executed_at)."""
    if isinstance(outcome, Accepted):
        return TRADE_ACCEPTED, _accepted(catalog, outcome)
    return TRADE_REJECTED, _rejected(catalog, outcome)
