"""The trade rules: validate a two-sided trade and compute both players' new states.

`execute_trade` is the single source of truth for what a trade does. Stores call it inside
their atomic step with the states they locked, so the rules never run on stale data.
Rejections are outcomes, not exceptions: a rejected trade is recorded and analysed too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bazaar.domain.catalog import Catalog
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide


class RejectionReason(StrEnum):
    SELF_TRADE = "self_trade"
    EMPTY_TRADE = "empty_trade"
    UNKNOWN_ITEM = "unknown_item"
    INSUFFICIENT_ITEMS = "insufficient_items"
    INSUFFICIENT_GOLD = "insufficient_gold"
    CAPACITY_EXCEEDED = "capacity_exceeded"


@dataclass(frozen=True, slots=True)
class Accepted:
    trade_id: int
    executed_at: str
    request: TradeRequest  # with item lines merged
    player_1: PlayerState  # state after the trade
    player_2: PlayerState

    status = "accepted"

    def to_document(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "status": self.status,
            "executed_at": self.executed_at,
            "request": self.request.to_document(),
            "player_1": self.player_1.to_document(),
            "player_2": self.player_2.to_document(),
        }


@dataclass(frozen=True, slots=True)
class Rejected:
    trade_id: int
    executed_at: str
    request: TradeRequest
    reason: RejectionReason
    detail: str

    status = "rejected"

    def to_document(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "status": self.status,
            "executed_at": self.executed_at,
            "request": self.request.to_document(),
            "reason": self.reason.value,
            "detail": self.detail,
        }


TradeOutcome = Accepted | Rejected


def outcome_from_document(doc: Mapping[str, Any]) -> TradeOutcome:
    request = TradeRequest.from_document(doc["request"])
    if doc["status"] == "accepted":
        return Accepted(
            trade_id=int(doc["trade_id"]),
            executed_at=str(doc["executed_at"]),
            request=request,
            player_1=PlayerState.from_document(doc["player_1"]),
            player_2=PlayerState.from_document(doc["player_2"]),
        )
    return Rejected(
        trade_id=int(doc["trade_id"]),
        executed_at=str(doc["executed_at"]),
        request=request,
        reason=RejectionReason(doc["reason"]),
        detail=str(doc["detail"]),
    )


def merge_lines(lines: Iterable[ItemLine]) -> tuple[ItemLine, ...]:
    """Lines naming the same item are summed into one, in first-seen order."""
    merged: dict[int, int] = {}
    for line in lines:
        merged[line.item_id] = merged.get(line.item_id, 0) + line.quantity
    return tuple(ItemLine(item_id, qty) for item_id, qty in merged.items())


def _merged(side: TradeSide) -> TradeSide:
    if len(side.items) < 2 or len({line.item_id for line in side.items}) == len(side.items):
        return side  # nothing to merge: the common case, kept allocation-free
    return TradeSide(side.player_id, merge_lines(side.items), side.gold)


def normalise(request: TradeRequest) -> TradeRequest:
    one, two = _merged(request.player_1), _merged(request.player_2)
    if one is request.player_1 and two is request.player_2:
        return request
    return TradeRequest(one, two)


class _Rejection(Exception):
    def __init__(self, reason: RejectionReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


def _check_side(catalog: Catalog, side: TradeSide, giver: PlayerState, label: str) -> None:
    known = catalog.items
    for line in side.items:
        if line.item_id not in known:
            raise _Rejection(
                RejectionReason.UNKNOWN_ITEM,
                f"{label}: item_id {line.item_id} is not in the catalog",
            )
    for line in side.items:
        held = giver.items.get(line.item_id, 0)
        if held < line.quantity:
            raise _Rejection(
                RejectionReason.INSUFFICIENT_ITEMS,
                f"{label}: player {giver.player_id} holds {held} of item {line.item_id},"
                f" gives {line.quantity}",
            )
    if giver.gold < side.gold:
        raise _Rejection(
            RejectionReason.INSUFFICIENT_GOLD,
            f"{label}: player {giver.player_id} holds {giver.gold} gold, gives {side.gold}",
        )


def _after(state: PlayerState, gives: TradeSide, gets: TradeSide) -> PlayerState:
    items = dict(state.items)
    for line in gives.items:
        left = items[line.item_id] - line.quantity
        if left:
            items[line.item_id] = left
        else:
            del items[line.item_id]
    for line in gets.items:
        items[line.item_id] = items.get(line.item_id, 0) + line.quantity
    return PlayerState(
        state.player_id,
        state.username,
        state.player_class,
        state.gold - gives.gold + gets.gold,
        items,
        state.capacity,
        state.version + 1,
        state.created_at,
    )


def execute_trade(
    catalog: Catalog,
    request: TradeRequest,
    player_1: PlayerState,
    player_2: PlayerState,
    *,
    trade_id: int,
    executed_at: str,
) -> TradeOutcome:
    """Apply `request` to the two current states, or say why not.

    Checks run in a fixed order so each rejection carries exactly one reason:
    self_trade, empty_trade, unknown_item, insufficient_items, insufficient_gold,
    capacity_exceeded.
    """
    request = normalise(request)
    one, two = request.player_1, request.player_2
    try:
        if one.player_id == two.player_id:
            raise _Rejection(
                RejectionReason.SELF_TRADE, f"player {one.player_id} cannot trade with itself"
            )
        if one.gives_nothing and two.gives_nothing:
            raise _Rejection(RejectionReason.EMPTY_TRADE, "neither side gives anything")
        _check_side(catalog, one, player_1, "player_1")
        _check_side(catalog, two, player_2, "player_2")
        new_1 = _after(player_1, one, two)
        new_2 = _after(player_2, two, one)
        for label, old, new in (("player_1", player_1, new_1), ("player_2", player_2, new_2)):
            # Only a receiver that grows can break capacity; one already over it (after a
            # catalog change) may still trade down.
            held = new.held
            if held > new.capacity and held > old.held:
                raise _Rejection(
                    RejectionReason.CAPACITY_EXCEEDED,
                    f"{label}: player {new.player_id} would hold {held} items,"
                    f" capacity {new.capacity}",
                )
    except _Rejection as rejection:
        return Rejected(trade_id, executed_at, request, rejection.reason, rejection.detail)
    return Accepted(trade_id, executed_at, request, new_1, new_2)
