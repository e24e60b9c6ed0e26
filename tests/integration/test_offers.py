"""Trade offers on every store: outcomes, events, expiry, races, conservation, history."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import BazaarError, GoodsUnavailable, InvalidRequest, OfferNotOpen
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, Actor, OfferAction, OfferStatus
from bazaar.store.base import Store
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.offers import FOOD, MILK, farmers, food_for_gold, race
from tests.support.server import running_server


def _types(store: Store) -> list[str]:
    return [e["event_type"] for e in outbox_events(store)]


def test_accepting_moves_the_goods_and_writes_three_events_in_order(store: Store) -> None:
    a, b = farmers(store, 2)
    offer = store.create_offer(food_for_gold(a, b), 600)
    result = store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b))
    assert result.offer.status is OfferStatus.ACCEPTED
    assert result.trade is not None and result.offer.trade_id == result.trade.trade_id
    assert store.get_player(a).items[FOOD] == 497 and store.get_player(a).gold == 520
    assert store.get_player(b).items[FOOD] == 503 and store.get_player(b).gold == 480
    assert store.get_trade(result.trade.trade_id).status == "accepted"
    events = outbox_events(store)
    assert [e["event_type"] for e in events[2:]] == [
        "offer_created",
        "trade_accepted",
        "offer_accepted",
    ]
    instants = [e["occurred_at"] for e in events]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    assert events[-1]["payload"]["trade_id"] == events[-2]["payload"]["trade_id"]


def test_an_offer_whose_wanted_goods_are_gone_fails_with_the_reason(store: Store) -> None:
    a, b, c = farmers(store, 3)
    milk_for_gold = TradeRequest(TradeSide(a, (ItemLine(MILK, 1),)), TradeSide(b, gold=400))
    offer = store.create_offer(milk_for_gold, 600)
    spent = store.execute_trade(TradeRequest(TradeSide(b, gold=200), TradeSide(c, gold=0)))
    assert spent.status == "accepted"
    before = (store.get_player(a), store.get_player(b))
    result = store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b))
    assert result.offer.status is OfferStatus.FAILED
    assert result.offer.reason == "insufficient_gold"
    assert "holds 300 gold, gives 400" in (result.offer.detail or "")
    after = (store.get_player(a), store.get_player(b))
    assert [(p.gold, p.items, p.version) for p in after] == [
        (p.gold, p.items, p.version) for p in before
    ], "nothing moved"
    assert after[0].held_items == {} and before[0].held_items == {MILK: 1}, "hold released"
    assert _types(store)[-2:] == ["trade_rejected", "offer_failed"]
    with pytest.raises(OfferNotOpen):
        store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b))


@pytest.mark.parametrize(
    ("action", "actor", "status", "event"),
    [
        (OfferAction.DECLINE, "addressee", OfferStatus.DECLINED, "offer_declined"),
        (OfferAction.CANCEL, "creator", OfferStatus.CANCELLED, "offer_cancelled"),
        (OfferAction.CANCEL, "server", OfferStatus.CANCELLED, "offer_cancelled"),
    ],
)
def test_decline_and_cancel_are_final_and_recorded_once(
    store: Store, action: OfferAction, actor: str, status: OfferStatus, event: str
) -> None:
    a, b = farmers(store, 2)
    offer = store.create_offer(food_for_gold(a, b), 600)
    who = {"addressee": Actor(b), "creator": Actor(a), "server": SERVER}[actor]
    assert store.act_on_offer(offer.offer_id, action, who).offer.status is status
    for again in OfferAction:
        with pytest.raises(OfferNotOpen):
            store.act_on_offer(offer.offer_id, again, SERVER)
    assert _types(store)[2:] == ["offer_created", event]
    assert store.get_player(a).version == 1, "no trade ran"


def test_an_expired_offer_cannot_be_accepted_and_expires_once(store: Store) -> None:
    a, b = farmers(store, 2)
    offer = store.create_offer(food_for_gold(a, b), 1)
    time.sleep(1.05)
    assert store.get_offer(offer.offer_id).seen_at(_now()).status is OfferStatus.EXPIRED
    for _ in range(2):
        with pytest.raises(OfferNotOpen) as refused:
            store.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b))
        assert refused.value.status == "expired"
    assert _types(store)[2:] == ["offer_created", "offer_expired"]
    assert store.get_offer(offer.offer_id).status is OfferStatus.EXPIRED
    assert store.get_player(a).version == 1


def _now() -> str:
    from datetime import UTC, datetime

    from bazaar.domain.clock import format_instant

    return format_instant(datetime.now(UTC))


def test_16_concurrent_accepts_of_one_offer_execute_it_once(store: Store, store_url: str) -> None:
    a, b = farmers(store, 2)
    offer = store.create_offer(food_for_gold(a, b), 600)

    def accept(s: Store) -> Any:
        return s.act_on_offer(offer.offer_id, OfferAction.ACCEPT, Actor(b))

    results = race(store_url, [accept] * 16)
    won = [r for r in results if not isinstance(r, BazaarError)]
    assert len(won) == 1 and won[0].offer.status is OfferStatus.ACCEPTED
    assert all(isinstance(r, OfferNotOpen) for r in results if r not in won)
    assert store.get_player(a).items[FOOD] == 497, "the goods moved once"
    assert Counter(_types(store))["trade_accepted"] == 1
    assert Counter(_types(store))["offer_accepted"] == 1


def test_accept_racing_cancel_has_exactly_one_winner(store: Store, store_url: str) -> None:
    players = farmers(store, 2)
    a, b = players
    outcomes = Counter()
    for _ in range(8):
        offer = store.create_offer(food_for_gold(a, b, food=1, gold=1), 600)
        oid = offer.offer_id
        results = race(
            store_url,
            [
                lambda s, oid=oid: s.act_on_offer(oid, OfferAction.ACCEPT, Actor(b)),
                lambda s, oid=oid: s.act_on_offer(oid, OfferAction.CANCEL, Actor(a)),
            ],
        )
        won = [r for r in results if not isinstance(r, BazaarError)]
        assert len(won) == 1, results
        assert [type(r) for r in results if isinstance(r, BazaarError)] == [OfferNotOpen]
        final = store.get_offer(oid).status
        assert final is won[0].offer.status
        outcomes[final] += 1
    kinds = Counter(_types(store))
    assert kinds["offer_accepted"] == outcomes[OfferStatus.ACCEPTED]
    assert kinds["offer_cancelled"] == outcomes[OfferStatus.CANCELLED]
    assert kinds["trade_accepted"] == outcomes[OfferStatus.ACCEPTED]
    assert store.get_player(a).gold == 500 + outcomes[OfferStatus.ACCEPTED]


def test_concurrent_offers_conserve_goods_and_record_one_event_per_transition(
    store: Store, store_url: str, catalog: Catalog
) -> None:
    ids = [store.create_player(NewPlayer(c)).player_id for c in ("farmer", "hunter", "tailor")]
    ids += farmers(store, 3)
    rng = random.Random(9)
    plans: list[list[tuple[int, int, int, int]]] = [
        [
            (rng.choice(ids), rng.choice(ids), rng.randint(1, 150), rng.randint(0, 60))
            for _ in range(12)
        ]
        for _ in range(6)
    ]

    def worker(plan: list[tuple[int, int, int, int]]) -> Callable[[Store], Any]:
        def run(s: Store) -> None:
            for creator, addressee, food, gold in plan:
                if creator == addressee:
                    continue
                try:  # the creator's food may be held by their other open offers, or gone
                    offer = s.create_offer(food_for_gold(creator, addressee, food, gold), 600)
                except GoodsUnavailable:
                    refusals.append(creator)
                    continue
                action = rng_choice(offer.offer_id)
                try:
                    if action is OfferAction.CANCEL:
                        s.act_on_offer(offer.offer_id, action, Actor(creator))
                    else:
                        s.act_on_offer(offer.offer_id, action, Actor(addressee))
                except OfferNotOpen:
                    pass
                # and a direct trade between the same players, racing the other workers
                s.execute_trade(
                    TradeRequest(TradeSide(addressee, (ItemLine(FOOD, 1),)), TradeSide(creator))
                )

        return run

    def rng_choice(offer_id: int) -> OfferAction:
        return [OfferAction.ACCEPT, OfferAction.ACCEPT, OfferAction.DECLINE, OfferAction.CANCEL][
            offer_id % 4
        ]

    refusals: list[int] = []
    results = race(store_url, [worker(p) for p in plans])
    assert all(r is None for r in results), results
    assert holdings(store) == supply(catalog, store), "no gold or item created or destroyed"
    assert refusals, "the plan exercises offers of goods not there"
    assert all(not p.held_items and not p.held_gold for p in store.players()), "all released"

    events = outbox_events(store)
    per_offer: dict[int, list[str]] = {}
    for e in events:
        if e["event_type"].startswith("offer_"):
            per_offer.setdefault(e["payload"]["offer_id"], []).append(e["event_type"])
    for offer_id, kinds in per_offer.items():
        status = store.get_offer(offer_id).status
        assert kinds[0] == "offer_created" and len(kinds) == 2, (offer_id, kinds)
        assert kinds[1] == f"offer_{status.value}"
    trades = [e for e in events if e["event_type"].startswith("trade_")]
    assert len({e["payload"]["trade_id"] for e in trades}) == len(trades)
    accepted_offers = [k for k in per_offer.values() if k[1] == "offer_accepted"]
    assert accepted_offers, "the plan exercises accepts"


def test_history_lists_trades_and_offers_newest_first_in_pages(store: Store) -> None:
    a, b, c = farmers(store, 3)
    first = store.create_offer(food_for_gold(a, b), 600)
    store.execute_trade(TradeRequest(TradeSide(a, gold=5), TradeSide(c)))
    store.act_on_offer(first.offer_id, OfferAction.ACCEPT, Actor(b))
    second = store.create_offer(food_for_gold(c, a), 600)
    store.execute_trade(TradeRequest(TradeSide(b, gold=5), TradeSide(c)))  # not a's

    seen: list[tuple[str, int]] = []
    cursor = None
    while True:
        page = store.player_history(a, limit=2, before=cursor)
        for entry in page.entries:
            ref = entry.trade.trade_id if entry.trade else entry.offer.offer_id  # type: ignore[union-attr]
            seen.append((entry.kind, ref))
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [
        ("offer", second.offer_id),
        ("trade", 2),
        ("trade", 1),
        ("offer", first.offer_id),
    ]
    assert [e.kind for e in store.player_history(b).entries] == ["trade", "trade", "offer"]
    with pytest.raises(InvalidRequest):
        store.player_history(a, before="not-a-cursor")


# -- over HTTP, against `bazaar serve` with two worker processes -------------------------


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    key_file = tmp_path / "keys"
    key_file.write_text("server-key-for-tests\n")
    with running_server(store_url, workers=2, extra=["--api-key-file", str(key_file)]) as url:
        yield url, {"Authorization": "Bearer server-key-for-tests"}


def test_over_http_16_accepts_one_wins_and_accept_racing_cancel_one_wins(
    served: tuple[str, dict[str, str]],
) -> None:
    url, server = served
    a = httpx.post(f"{url}/players", json={"player_class": "farmer"}, headers=server).json()
    b = httpx.post(f"{url}/players", json={"player_class": "farmer"}, headers=server).json()
    as_a = {"Authorization": f"Bearer {a['token']}"}
    as_b = {"Authorization": f"Bearer {b['token']}"}
    body = {"to_player_id": b["player_id"], "gives": {"items": [{"item_id": FOOD, "quantity": 4}]}}

    async def race(calls: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(client.post(u, headers=h) for u, h in calls))

    offer = httpx.post(f"{url}/offers", json=body, headers=as_a).json()
    accept = f"{url}/offers/{offer['offer_id']}/accept"
    codes = Counter(r.status_code for r in asyncio.run(race([(accept, as_b)] * 16)))
    assert codes == {200: 1, 409: 15}
    assert (
        httpx.get(f"{url}/players/{b['player_id']}", headers=server).json()["items"][0]["quantity"]
        == 504
    )

    for _ in range(4):
        offer = httpx.post(f"{url}/offers", json=body, headers=as_a).json()
        base = f"{url}/offers/{offer['offer_id']}"
        responses = asyncio.run(race([(f"{base}/accept", as_b), (f"{base}/cancel", as_a)]))
        assert sorted(r.status_code for r in responses) == [200, 409]
        final = httpx.get(base, headers=server).json()["status"]
        winner = next(r for r in responses if r.status_code == 200).json()["offer"]["status"]
        assert final == winner in ("accepted", "cancelled")
