"""Offers among farmers, for the offer tests: what a farmer starts with and the usual
food-for-gold proposal between two of them."""

from __future__ import annotations

from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.store.base import Store

FOOD, MILK = 5, 6  # a farmer starts with 500 Food Packages, 399 Milk and 500 gold


def farmers(store: Store, n: int) -> list[int]:
    return [store.create_player(NewPlayer("farmer")).player_id for _ in range(n)]


def food_for_gold(creator: int, addressee: int, food: int = 3, gold: int = 20) -> TradeRequest:
    """The creator gives `food` Food Packages, the addressee `gold` in return."""
    return TradeRequest(
        TradeSide(creator, (ItemLine(FOOD, food),)), TradeSide(addressee, gold=gold)
    )
