"""Faucets and sinks on every store: grants and consumptions with their rules, events and
idempotency, the trade fee, and conservation as creations + grants - consumptions - fees."""

from __future__ import annotations

from typing import Any

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import GoodsUnavailable, IdempotencyKeyReused
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import Actor, OfferAction
from bazaar.domain.trading import Accepted
from bazaar.store.base import Idempotency, Store
from bazaar.stream.contract import contract_violations
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.offers import FOOD, MILK, farmers, race

GRANT, CONSUMPTION = AdjustmentKind.GRANT, AdjustmentKind.CONSUMPTION


def _adj(
    kind: AdjustmentKind, pid: int, gold: int = 0, *lines: tuple[int, int], why: str = "loot"
) -> Adjustment:
    return Adjustment(kind, pid, tuple(ItemLine(i, q) for i, q in lines), gold, why)


def test_a_grant_and_a_consumption_change_the_player_with_one_event_each(
    store: Store, catalog: Catalog
) -> None:
    (a,) = farmers(store, 1)
    granted = store.adjust(_adj(GRANT, a, 70, (MILK, 30), why="quest_reward"))
    assert granted.player.gold == 570 and granted.player.items[MILK] == 429
    assert granted.player.version == 2 == store.get_player(a).version
    repaired = store.adjust(_adj(CONSUMPTION, a, 100, (FOOD, 500), why="repair"))
    assert repaired.adjustment_id == granted.adjustment_id + 1, "one sequence for both"
    state = store.get_player(a)
    assert (state.gold, FOOD in state.items, state.version) == (470, False, 3)
    events = [e for e in outbox_events(store) if e["event_type"].startswith("goods_")]
    assert [e["event_type"] for e in events] == ["goods_granted", "goods_consumed"]
    assert all(contract_violations(e) == [] for e in events)
    consumed = events[1]["payload"]
    assert consumed["consumption_id"] == repaired.adjustment_id and consumed["reason"] == "repair"
    assert consumed["items"] == [{"item_id": FOOD, "quantity": 500, "value": catalog.values[FOOD]}]
    assert consumed["items_after"] == [{"item_id": FOOD, "quantity": 0}]
    assert (consumed["gold_after"], consumed["version"]) == (470, 3)
    assert holdings(store) == supply(catalog, store)


def test_the_rules_refuse_with_the_reason_and_write_nothing(store: Store) -> None:
    a, b = farmers(store, 2)
    store.create_offer(TradeRequest(TradeSide(a, (ItemLine(FOOD, 400),), 450), TradeSide(b)), 600)
    refusals = [
        (_adj(CONSUMPTION, a, 0, (FOOD, 101)), "insufficient_items"),  # 400 of 500 held
        (_adj(CONSUMPTION, a, 51), "insufficient_gold"),  # 450 of 500 held
        (_adj(GRANT, a, 0, (MILK, 101)), "capacity_exceeded"),  # 899 + 101 > 999
    ]
    before = store.get_player(a)
    for adjustment, reason in refusals:
        with pytest.raises(GoodsUnavailable) as refused:
            store.adjust(adjustment)
        assert refused.value.reason == reason
    assert store.get_player(a) == before
    assert not [e for e in outbox_events(store) if e["event_type"].startswith("goods_")]
    store.adjust(_adj(CONSUMPTION, a, 50, (FOOD, 100)))  # exactly the free goods


def test_an_idempotency_key_applies_once_and_answers_the_same(store: Store) -> None:
    (a,) = farmers(store, 1)
    key = Idempotency.for_request("grants", "quest-77", {"gold": 5})
    first = store.adjust(_adj(GRANT, a, 5), key)
    again = store.adjust(_adj(GRANT, a, 5), key)
    assert again.adjustment_id == first.adjustment_id and again.player.gold == 505
    assert store.get_player(a).gold == 505
    other = Idempotency(key.key, "another body")
    with pytest.raises(IdempotencyKeyReused):
        store.adjust(_adj(GRANT, a, 6), other)


def test_16_concurrent_consumptions_take_exactly_what_is_free(
    store: Store, store_url: str, catalog: Catalog
) -> None:
    a, b = farmers(store, 2)
    store.create_offer(TradeRequest(TradeSide(a, gold=100), TradeSide(b)), 600)

    def consume(s: Store) -> Any:
        return s.adjust(_adj(CONSUMPTION, a, 90, why="repair"))

    def offer(s: Store) -> Any:
        return s.create_offer(TradeRequest(TradeSide(a, gold=90), TradeSide(b)), 600)

    results = race(store_url, [consume, offer] * 8)
    refused = [r for r in results if isinstance(r, GoodsUnavailable)]
    assert len(results) - len(refused) == 4, "400 gold free: four lots of 90"
    state = store.get_player(a)
    consumed = sum(1 for r in results if hasattr(r, "adjustment_id"))
    assert state.gold == 500 - 90 * consumed
    assert state.held_gold == 100 + 90 * (4 - consumed)
    assert holdings(store) == supply(catalog, store)


def test_the_trade_fee_is_paid_by_the_gold_side_and_leaves_the_economy(
    store: Store, catalog: Catalog
) -> None:
    a, b, c = farmers(store, 3)
    store.trade_fee_bps = 250  # 2.5 %
    trade = store.execute_trade(
        TradeRequest(TradeSide(a, gold=400), TradeSide(b, (ItemLine(MILK, 2),)))
    )
    assert isinstance(trade, Accepted) and (trade.fee_1, trade.fee_2) == (10, 0)
    assert store.get_player(a).gold == 90 and store.get_player(b).gold == 900
    broke = store.execute_trade(TradeRequest(TradeSide(a, gold=89), TradeSide(c)))
    assert broke.status == "rejected" and "gives 89 + fee 2" in getattr(broke, "detail", "")
    offer = store.create_offer(
        TradeRequest(TradeSide(c, gold=200), TradeSide(b, (ItemLine(MILK, 1),))), 600
    )
    paid = store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b)).trade
    assert isinstance(paid, Accepted) and paid.fee_1 == 5
    assert store.get_player(c).gold == 295 and store.get_player(c).held_gold == 0
    fees = [
        side.get("fee")
        for e in outbox_events(store)
        if e["event_type"] == "trade_accepted"
        for side in (e["payload"]["player_1"], e["payload"]["player_2"])
    ]
    assert fees == [10, None, 5, None]
    assert holdings(store) == supply(catalog, store)
    assert holdings(store)[0] == 1500 - 15
