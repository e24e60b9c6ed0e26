"""Faucets and sinks: the server grants goods to a player (quest rewards, loot, crafting
output) or consumes them (repairs, crafting input, fees), outside any trade.

Supply changes only here, at player creation and through trade fees, so the conservation
audit reads: supply = creations + grants - consumptions - fees (per item, and for gold).
A grant must fit the player's capacity; a consumption may take only free goods (not held
in escrow by an open offer). Each applied adjustment is one event, `goods_granted` or
`goods_consumed`, carrying the player's state after it like a trade side does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import GoodsUnavailable, InvalidRequest
from bazaar.domain.events import GOODS_CONSUMED, GOODS_GRANTED, Event, side_after_fields
from bazaar.domain.model import ItemLine, PlayerState
from bazaar.domain.trading import merge_lines

DEFAULT_REASONS = ("quest_reward", "loot", "craft", "repair", "fee")
REASON_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")


class AdjustmentKind(StrEnum):
    GRANT = "grant"
    CONSUMPTION = "consumption"


_EVENT_FOR = {AdjustmentKind.GRANT: GOODS_GRANTED, AdjustmentKind.CONSUMPTION: GOODS_CONSUMED}
_ID_FIELD = {AdjustmentKind.GRANT: "grant_id", AdjustmentKind.CONSUMPTION: "consumption_id"}


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A request to add (grant) or take (consumption) gold and items for one player."""

    kind: AdjustmentKind
    player_id: int
    items: tuple[ItemLine, ...]
    gold: int
    reason: str

    def to_document(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "player_id": self.player_id,
            "items": [{"item_id": i.item_id, "quantity": i.quantity} for i in self.items],
            "gold": self.gold,
            "reason": self.reason,
        }


def check_reasons(reasons: Sequence[str]) -> tuple[str, ...]:
    """A configured reason list, or ValueError naming the bad entry."""
    if not reasons:
        raise ValueError("the list of grant/consumption reasons is empty")
    for reason in reasons:
        if not REASON_PATTERN.fullmatch(reason):
            raise ValueError(
                f"reason {reason!r}: lower-case letters, digits and '_', starting with a"
                " letter, at most 32 characters"
            )
    return tuple(dict.fromkeys(reasons))


def check_adjustment(
    catalog: Catalog, adjustment: Adjustment, reasons: Sequence[str]
) -> Adjustment:
    """The adjustment with item lines merged, or InvalidRequest (422) for one that could
    never apply: an unknown reason or item, nothing to move."""
    if adjustment.reason not in reasons:
        raise InvalidRequest(
            f"reason {adjustment.reason[:40]!r} is not configured; known: {', '.join(reasons)}",
            field="reason",
            reason="unknown_reason",
        )
    items = merge_lines(adjustment.items)
    if not items and adjustment.gold == 0:
        raise InvalidRequest(
            "neither gold nor items given", field="items", reason="empty_adjustment"
        )
    for line in items:
        if catalog.item(line.item_id) is None:
            raise InvalidRequest(
                f"items: item_id {line.item_id} is not in the catalog",
                field="items",
                reason="unknown_item",
            )
    return replace(adjustment, items=tuple(sorted(items, key=lambda line: line.item_id)))


def apply_adjustment(adjustment: Adjustment, state: PlayerState) -> PlayerState:
    """The player's state after the adjustment, or GoodsUnavailable (409) with the rule
    broken: a grant past capacity, a consumption of goods not free."""
    items = dict(state.items)
    if adjustment.kind is AdjustmentKind.GRANT:
        for line in adjustment.items:
            items[line.item_id] = items.get(line.item_id, 0) + line.quantity
        gold = state.gold + adjustment.gold
        total = sum(items.values())
        if adjustment.items and total > state.capacity:
            raise GoodsUnavailable(
                "capacity_exceeded",
                f"player {state.player_id} would hold {total} items, capacity {state.capacity}",
            )
    else:
        state.check_free(adjustment.items, adjustment.gold, "consumes")
        for line in adjustment.items:
            left = items[line.item_id] - line.quantity
            if left:
                items[line.item_id] = left
            else:
                del items[line.item_id]
        gold = state.gold - adjustment.gold
    return replace(state, gold=gold, items=items, version=state.version + 1)


@dataclass(frozen=True, slots=True)
class Adjusted:
    """An applied adjustment: its id (one sequence for grants and consumptions), instant,
    and the player's state after it."""

    adjustment_id: int
    at: str
    adjustment: Adjustment
    player: PlayerState

    def to_document(self) -> dict[str, Any]:
        return {
            _ID_FIELD[self.adjustment.kind]: self.adjustment_id,
            "at": self.at,
            **self.adjustment.to_document(),
            "player": self.player.to_document(),
            # escrow at the time: a retry with the same key answers the same state
            "held": self.player.escrow_document(),
        }

    @staticmethod
    def from_document(doc: Mapping[str, Any]) -> Adjusted:
        kind = AdjustmentKind(doc["kind"])
        adjustment = Adjustment(
            kind,
            int(doc["player_id"]),
            tuple(ItemLine(int(i["item_id"]), int(i["quantity"])) for i in doc["items"]),
            int(doc["gold"]),
            str(doc["reason"]),
        )
        held = doc.get("held") or {"gold": 0, "items": []}
        player = replace(
            PlayerState.from_document(doc["player"]),
            held_gold=int(held["gold"]),
            held_items={int(i["item_id"]): int(i["quantity"]) for i in held["items"]},
        )
        return Adjusted(int(doc[_ID_FIELD[kind]]), str(doc["at"]), adjustment, player)


def adjustment_event(catalog: Catalog, adjusted: Adjusted, *, event_id: str) -> Event:
    """goods_granted / goods_consumed: what moved, and the player's state after it."""
    adjustment = adjusted.adjustment
    payload: dict[str, Any] = {
        _ID_FIELD[adjustment.kind]: adjusted.adjustment_id,
        "player_id": adjustment.player_id,
        "reason": adjustment.reason,
        **side_after_fields(
            catalog, adjustment.gold, adjustment.items, adjusted.player,
            [line.item_id for line in adjustment.items],
        ),
    }  # fmt: skip
    return Event(event_id, _EVENT_FOR[adjustment.kind], adjusted.at, payload)
