"""Offers among farmers, for the offer tests: what a farmer starts with and the usual
food-for-gold proposal between two of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from bazaar.domain.errors import BazaarError
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.store.base import Store
from tests.support.stores import open_url

FOOD, MILK = 5, 6  # a farmer starts with 500 Food Packages, 399 Milk and 500 gold


def farmers(store: Store, n: int) -> list[int]:
    return [store.create_player(NewPlayer("farmer")).player_id for _ in range(n)]


def food_for_gold(creator: int, addressee: int, food: int = 3, gold: int = 20) -> TradeRequest:
    """The creator gives `food` Food Packages, the addressee `gold` in return."""
    return TradeRequest(
        TradeSide(creator, (ItemLine(FOOD, food),)), TradeSide(addressee, gold=gold)
    )


def race(store_url: str, calls: list[Callable[[Store], Any]]) -> list[Any]:
    """Run each call on its own thread and its own store connection, released together;
    each result is what the call returned or the BazaarError it raised."""
    results: list[Any] = [None] * len(calls)
    gate = threading.Barrier(len(calls))

    def run(n: int) -> None:
        own = open_url(store_url)
        try:
            gate.wait()
            results[n] = calls[n](own)
        except BazaarError as exc:
            results[n] = exc
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
