"""Escrow, counter-offers and on-time expiry on every store: held goods cannot be spent
twice, every ending releases them, counters link both ways, the sweeper expires offers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import Forbidden, GoodsUnavailable, OfferNotOpen
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, Actor, OfferAction, OfferStatus
from bazaar.domain.trading import Accepted, Rejected
from bazaar.store.base import Store
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.offers import FOOD, farmers, food_for_gold, race


def _held(store: Store, player_id: int) -> tuple[int, dict[int, int]]:
    state = store.get_player(player_id)
    return state.held_gold, dict(state.held_items)


def test_an_offer_holds_its_gives_and_held_goods_cannot_be_spent(store: Store) -> None:
    a, b, c = farmers(store, 3)
    offer = store.create_offer(food_for_gold(a, b, food=90, gold=20), 600)
    store.create_offer(food_for_gold(a, c, food=90, gold=20), 600)
    assert _held(store, a) == (0, {FOOD: 180})
    assert store.get_player(a).items[FOOD] == 500, "held goods stay the player's"
    trade = store.execute_trade(TradeRequest(TradeSide(a, (ItemLine(FOOD, 321),)), TradeSide(c)))
    assert isinstance(trade, Rejected) and trade.reason == "insufficient_items"
    assert "holds 500 of item 5 (180 held by open offers), gives 321" in trade.detail
    fits = store.execute_trade(TradeRequest(TradeSide(a, (ItemLine(FOOD, 50),)), TradeSide(c)))
    assert isinstance(fits, Accepted), "free goods still trade"
    with pytest.raises(GoodsUnavailable) as refused:
        store.create_offer(food_for_gold(a, c, food=271), 600)
    assert refused.value.reason == "insufficient_items"
    store.create_offer(TradeRequest(TradeSide(b, gold=400), TradeSide(a)), 600)
    with pytest.raises(GoodsUnavailable) as broke:
        store.create_offer(TradeRequest(TradeSide(b, gold=101), TradeSide(c)), 600)
    assert broke.value.reason == "insufficient_gold"
    accepted = store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b))
    assert accepted.offer.status is OfferStatus.ACCEPTED
    assert _held(store, a) == (0, {FOOD: 90}), "accepting moved its own held goods only"
    assert store.get_player(a).items[FOOD] == 360 and store.get_player(b).items[FOOD] == 590


@pytest.mark.parametrize("ending", ["decline", "cancel", "fail", "counter", "expire"])
def test_every_ending_but_accept_releases_the_hold(store: Store, ending: str) -> None:
    a, b = farmers(store, 2)
    wants = 10**6 if ending == "fail" else 20  # more gold than b has: the accept fails
    offer = store.create_offer(
        food_for_gold(a, b, food=500, gold=wants), 1 if ending == "expire" else 600
    )
    assert _held(store, a) == (0, {FOOD: 500})
    if ending == "decline":
        store.act_on_offer(offer.offer_id, OfferAction.DECLINE, Actor(b))
    elif ending == "cancel":
        store.act_on_offer(offer.offer_id, OfferAction.CANCEL, Actor(a))
    elif ending == "fail":
        failed = store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b)).offer
        assert failed.status is OfferStatus.FAILED and failed.reason == "insufficient_gold"
    elif ending == "counter":
        back = TradeRequest(TradeSide(b, gold=10), TradeSide(a, (ItemLine(FOOD, 5),)))
        store.counter_offer(offer.offer_id, back, 600, Actor(b))
    else:
        time.sleep(1.05)
        assert store.expire_due_offers() == 1
    assert _held(store, a) == (0, {}), ending
    ended = [e for e in outbox_events(store) if e["payload"].get("offer_id") == offer.offer_id]
    assert ended[0]["payload"]["held"] == {"gold": 0, "items": [{"item_id": FOOD, "quantity": 500}]}
    assert ended[-1]["payload"]["released"] == ended[0]["payload"]["held"]
    store.create_offer(food_for_gold(a, b, food=500), 600)  # free again


def test_16_concurrent_offers_and_trades_of_the_same_gold_use_exactly_what_fits(
    store: Store, store_url: str
) -> None:
    a, b, c = farmers(store, 3)

    def offer(s: Store) -> Any:
        return s.create_offer(TradeRequest(TradeSide(a, gold=120), TradeSide(b)), 600)

    def trade(s: Store) -> Any:
        return s.execute_trade(TradeRequest(TradeSide(a, gold=120), TradeSide(c)))

    calls: list[Callable[[Store], Any]] = [offer, trade] * 8
    results = race(store_url, calls)
    refused = [r for r in results if isinstance(r, (GoodsUnavailable, Rejected))]
    assert len(results) - len(refused) == 4, "500 gold holds or gives four lots of 120"
    assert all(r.reason == "insufficient_gold" for r in refused)
    traded = sum(1 for r in results if isinstance(r, Accepted))
    state = store.get_player(a)
    assert state.gold == 500 - 120 * traded
    assert state.held_gold == 120 * (4 - traded)


def test_16_concurrent_accepts_and_offers_never_spend_held_goods_twice(
    store: Store, store_url: str, catalog: Catalog
) -> None:
    a, b = farmers(store, 2)
    first = store.create_offer(
        TradeRequest(TradeSide(a, gold=300), TradeSide(b, (ItemLine(FOOD, 1),))), 600
    )

    def accept(s: Store) -> Any:
        return s.act_on_offer(first.offer_id, OfferAction.ACCEPT, Actor(b))

    def offer_again(s: Store) -> Any:
        return s.create_offer(TradeRequest(TradeSide(a, gold=100), TradeSide(b)), 600)

    results = race(store_url, [accept, offer_again] * 8)
    won = [r for r in results if not isinstance(r, (OfferNotOpen, GoodsUnavailable))]
    assert len(won) == 3, "one accept, and the 200 gold left free held twice"
    assert holdings(store) == supply(catalog, store)
    state = store.get_player(a)
    assert (state.gold, state.held_gold, state.items[FOOD]) == (200, 200, 501)


def test_a_counter_chain_links_both_ways_with_one_event_each(store: Store) -> None:
    a, b, c = farmers(store, 3)
    first = store.create_offer(food_for_gold(a, b, food=10, gold=50), 600)
    with pytest.raises(Forbidden):
        store.counter_offer(first.offer_id, TradeRequest(TradeSide(b), TradeSide(a)), 60, Actor(a))
    second = store.counter_offer(
        first.offer_id, TradeRequest(TradeSide(b, gold=30), TradeSide(a, (ItemLine(FOOD, 10),))),
        600, Actor(b),
    )  # fmt: skip
    assert second.original.status is OfferStatus.COUNTERED
    assert second.original.countered_by == second.counter.offer_id
    assert second.counter.counter_of == first.offer_id
    assert (second.counter.from_player_id, second.counter.to_player_id) == (b, a)
    assert _held(store, b) == (30, {}) and _held(store, a) == (0, {})
    third = store.counter_offer(
        second.counter.offer_id,
        TradeRequest(TradeSide(a, (ItemLine(FOOD, 10),)), TradeSide(b, gold=40)), 600, SERVER,
    )  # fmt: skip
    assert store.get_offer(second.counter.offer_id).status is OfferStatus.COUNTERED
    with pytest.raises(OfferNotOpen):
        store.counter_offer(first.offer_id, TradeRequest(TradeSide(b), TradeSide(a)), 60, Actor(b))
    done = store.act_on_offer(third.counter.offer_id, OfferAction.ACCEPT, Actor(b))
    assert done.offer.status is OfferStatus.ACCEPTED
    kinds = [
        (e["event_type"], e["payload"]["offer_id"])
        for e in outbox_events(store)
        if e["event_type"].startswith("offer_")
    ]
    ids = [first.offer_id, second.counter.offer_id, third.counter.offer_id]
    assert kinds == [
        ("offer_created", ids[0]),
        ("offer_countered", ids[0]),
        ("offer_created", ids[1]),
        ("offer_countered", ids[1]),
        ("offer_created", ids[2]),
        ("offer_accepted", ids[2]),
    ]
    assert all(_held(store, p) == (0, {}) for p in (a, b, c))


def test_the_sweeper_expires_due_offers_with_nobody_touching_them(store: Store) -> None:
    a, b = farmers(store, 2)
    due = store.create_offer(food_for_gold(a, b, food=7), 1)
    later = store.create_offer(food_for_gold(a, b, food=8), 600)
    assert store.expire_due_offers() == 0
    time.sleep(1.05)
    assert store.expire_due_offers() == 1
    assert store.expire_due_offers() == 0, "recorded once"
    assert store.get_offer(due.offer_id).status is OfferStatus.EXPIRED
    assert store.get_offer(later.offer_id).status is OfferStatus.OPEN
    assert _held(store, a) == (0, {FOOD: 8})
    expired = [e for e in outbox_events(store) if e["event_type"] == "offer_expired"]
    assert [e["payload"]["offer_id"] for e in expired] == [due.offer_id]
    assert expired[0]["occurred_at"] >= expired[0]["payload"]["expires_at"]
