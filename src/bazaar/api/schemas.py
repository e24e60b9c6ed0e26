"""Request bodies as the API accepts them, and the JSON views it answers with.

Requests are parsed strictly: unknown fields, wrong types (a string or a float for an
integer, a bool for a number), out-of-range numbers are refused with the field's path.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bazaar.domain.catalog import Catalog
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import USERNAME_MAX, ItemLine, PlayerState, TradeRequest, TradeSide
from bazaar.domain.offers import DEFAULT_OFFER_TTL_SECONDS, MAX_OFFER_TTL_SECONDS
from bazaar.domain.trading import Accepted, TradeOutcome

MAX_ID = 2**63 - 1
MAX_QUANTITY = 1_000_000_000
MAX_GOLD = 10**15
MAX_LINES = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ItemLineIn(_Strict):
    item_id: int = Field(ge=1, le=MAX_ID)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class TradeSideIn(_Strict):
    player_id: int = Field(ge=1, le=MAX_ID)
    items: list[ItemLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    gold: int = Field(default=0, ge=0, le=MAX_GOLD)

    def to_domain(self) -> TradeSide:
        return TradeSide(
            player_id=self.player_id,
            items=tuple(ItemLine(i.item_id, i.quantity) for i in self.items),
            gold=self.gold,
        )


class TradeIn(_Strict):
    player_1: TradeSideIn
    player_2: TradeSideIn

    def to_domain(self) -> TradeRequest:
        return TradeRequest(self.player_1.to_domain(), self.player_2.to_domain())


class PlayerIn(_Strict):
    username: str | None = Field(default=None, max_length=USERNAME_MAX * 4)
    player_class: str | None = Field(default=None, max_length=64)


class OfferSideIn(_Strict):
    items: list[ItemLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    gold: int = Field(default=0, ge=0, le=MAX_GOLD)

    def to_domain(self, player_id: int) -> TradeSide:
        lines = tuple(ItemLine(i.item_id, i.quantity) for i in self.items)
        return TradeSide(player_id=player_id, items=lines, gold=self.gold)


class OfferIn(_Strict):
    """An offer from `from_player_id` (default: the token's player) to `to_player_id`:
    the creator gives `gives` and asks `wants` in return."""

    to_player_id: int = Field(ge=1, le=MAX_ID)
    from_player_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    gives: OfferSideIn = Field(default_factory=OfferSideIn)
    wants: OfferSideIn = Field(default_factory=OfferSideIn)
    expires_in: int = Field(default=DEFAULT_OFFER_TTL_SECONDS, ge=1, le=MAX_OFFER_TTL_SECONDS)


class CounterIn(_Strict):
    """A counter-offer from the original's addressee back to its creator: the addressee
    gives `gives` and asks `wants` in return."""

    gives: OfferSideIn = Field(default_factory=OfferSideIn)
    wants: OfferSideIn = Field(default_factory=OfferSideIn)
    expires_in: int = Field(default=DEFAULT_OFFER_TTL_SECONDS, ge=1, le=MAX_OFFER_TTL_SECONDS)


class AdjustmentIn(_Strict):
    """Goods granted to, or consumed from, one player, and why (one of the server's
    configured reasons: quest_reward, loot, craft, repair, fee by default)."""

    items: list[ItemLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    gold: int = Field(default=0, ge=0, le=MAX_GOLD)
    reason: str = Field(min_length=1, max_length=32)

    def to_domain(self, kind: AdjustmentKind, player_id: int) -> Adjustment:
        lines = tuple(ItemLine(i.item_id, i.quantity) for i in self.items)
        return Adjustment(kind, player_id, lines, self.gold, self.reason)


def player_view(catalog: Catalog, state: PlayerState, *, escrow: bool = True) -> dict[str, Any]:
    """A player as the API shows it; `escrow`: with `held` (a trade's recorded states, in
    POST /trades' answer, leave it out: escrow is not part of what a trade records)."""
    names, values = catalog.names, catalog.values
    # a held item the catalog does not know answers with name and value null
    items = [
        {
            "item_id": item_id,
            "name": names.get(item_id),
            "value": values.get(item_id),
            "quantity": quantity,
        }
        for item_id, quantity in sorted(state.items.items())
    ]
    view: dict[str, Any] = {
        "player_id": state.player_id,
        "username": state.username,
        "player_class": state.player_class,
        "gold": state.gold,
        "capacity": state.capacity,
        "version": state.version,
        "created_at": state.created_at,
        "items": items,
    }
    if escrow:  # the part of the totals above that open offers hold (not free to use)
        view["held"] = state.escrow_document()
    return view


def trade_result_view(catalog: Catalog, outcome: TradeOutcome) -> dict[str, Any]:
    """The answer to POST /trades (200 accepted, 409 rejected)."""
    if isinstance(outcome, Accepted):
        return {
            "trade_id": outcome.trade_id,
            "status": "accepted",
            "executed_at": outcome.executed_at,
            "player_1": player_view(catalog, outcome.player_1, escrow=False),
            "player_2": player_view(catalog, outcome.player_2, escrow=False),
        }
    return {
        "trade_id": outcome.trade_id,
        "status": "rejected",
        "reason": outcome.reason.value,
        "detail": outcome.detail,
        "executed_at": outcome.executed_at,
    }


def trade_record_view(outcome: TradeOutcome) -> dict[str, Any]:
    """The answer to GET /trades/{id}: what each side offered, and what came of it."""
    view: dict[str, Any] = {
        "trade_id": outcome.trade_id,
        "status": outcome.status,
        "executed_at": outcome.executed_at,
        "player_1": outcome.request.player_1.to_document(),
        "player_2": outcome.request.player_2.to_document(),
    }
    if not isinstance(outcome, Accepted):
        view["reason"] = outcome.reason.value
        view["detail"] = outcome.detail
    return view
