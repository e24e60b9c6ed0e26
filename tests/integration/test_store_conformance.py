"""Every store keeps every guarantee: this suite runs against each kind in STORE_KINDS."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

import orjson
import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import IdempotencyKeyReused, UnknownPlayer, UnknownTrade
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, Rejected
from bazaar.store.base import Idempotency, Store
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.trades import TradeGenerator, snapshot


def _trade(
    a: int,
    b: int,
    *,
    a_items: Sequence[tuple[int, int]] = (),
    b_items: Sequence[tuple[int, int]] = (),
    a_gold: int = 0,
    b_gold: int = 0,
) -> TradeRequest:
    return TradeRequest(
        TradeSide(a, tuple(ItemLine(i, q) for i, q in a_items), a_gold),
        TradeSide(b, tuple(ItemLine(i, q) for i, q in b_items), b_gold),
    )


def test_created_players_get_distinct_ids_and_starting_inventory(store: Store) -> None:
    farmer = store.create_player(NewPlayer("farmer", "Ann"))
    banker = store.create_player(NewPlayer("banker"))
    assert farmer.player_id != banker.player_id
    assert farmer.username == "Ann" and farmer.gold == 500 and farmer.version == 1
    assert dict(farmer.items) == {5: 500, 6: 399}
    assert banker.username == f"banker-{banker.player_id}"
    assert store.get_player(banker.player_id) == banker
    assert sorted(store.player_ids()) == sorted([farmer.player_id, banker.player_id])


def test_accepted_trade_moves_items_and_gold_and_bumps_versions(store: Store) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    b = store.create_player(NewPlayer("blacksmith")).player_id
    outcome = store.execute_trade(_trade(a, b, a_items=[(5, 10)], b_items=[(1, 2)], b_gold=7))
    assert isinstance(outcome, Accepted)
    pa, pb = store.get_player(a), store.get_player(b)
    assert pa.items[5] == 490 and pa.items[1] == 2 and pa.gold == 507 and pa.version == 2
    assert pb.items[5] == 10 and pb.items[1] == 398 and pb.gold == 993 and pb.version == 2
    assert store.get_trade(outcome.trade_id) == outcome


@pytest.mark.parametrize(
    ("trade", "reason"),
    [
        (lambda a, b: _trade(a, a, a_gold=1), "self_trade"),
        (lambda a, b: _trade(a, b), "empty_trade"),
        (lambda a, b: _trade(a, b, a_items=[(999, 1)]), "unknown_item"),
        (lambda a, b: _trade(a, b, a_items=[(1, 1)]), "insufficient_items"),
        (lambda a, b: _trade(a, b, a_items=[(5, 501)]), "insufficient_items"),
        (lambda a, b: _trade(a, b, b_gold=1001), "insufficient_gold"),
        (lambda a, b: _trade(a, b, b_items=[(1, 101)]), "capacity_exceeded"),
    ],
)
def test_rejected_trade_changes_nothing_and_is_recorded(
    store: Store, trade: Callable[[int, int], TradeRequest], reason: str
) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    b = store.create_player(NewPlayer("blacksmith")).player_id
    before = (store.get_player(a), store.get_player(b))
    outcome = store.execute_trade(trade(a, b))
    assert isinstance(outcome, Rejected)
    assert outcome.reason.value == reason
    assert (store.get_player(a), store.get_player(b)) == before
    events = outbox_events(store)
    assert events[-1]["event_type"] == "trade_rejected"
    assert events[-1]["payload"]["reason"] == reason


def test_unknown_player_records_nothing(store: Store) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    head = store.outbox_head()
    with pytest.raises(UnknownPlayer):
        store.execute_trade(_trade(a, 10_000, a_gold=1))
    with pytest.raises(UnknownPlayer):
        store.get_player(10_000)
    with pytest.raises(UnknownTrade):
        store.get_trade(10_000)
    assert store.outbox_head() == head


def test_every_change_has_exactly_one_event_in_order(store: Store) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    b = store.create_player(NewPlayer("hunter")).player_id
    ok = store.execute_trade(_trade(a, b, a_items=[(5, 1)], b_items=[(7, 1)]))
    bad = store.execute_trade(_trade(a, b, a_gold=10_000))
    entries = store.read_outbox(after=0, limit=100)
    assert [e.event_type for e in entries] == [
        "player_created",
        "player_created",
        "trade_accepted",
        "trade_rejected",
    ]
    seqs = [e.seq for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    times = [e.occurred_at for e in entries]
    assert times == sorted(times) and len(set(times)) == 4
    docs = [orjson.loads(e.body) for e in entries]
    assert docs[2]["payload"]["trade_id"] == ok.trade_id
    assert docs[3]["payload"]["trade_id"] == bad.trade_id
    assert {d["event_id"] for d in docs} == {e.event_id for e in entries}
    assert store.read_outbox(after=seqs[1], limit=1) == [entries[2]]
    assert store.outbox_head() == seqs[-1]


def test_trade_event_carries_states_after(store: Store) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    b = store.create_player(NewPlayer("hunter")).player_id
    store.execute_trade(_trade(a, b, a_items=[(5, 3)], b_gold=12))
    payload = outbox_events(store)[-1]["payload"]
    one, two = payload["player_1"], payload["player_2"]
    assert one["items"] == [{"item_id": 5, "quantity": 3, "value": 6}]
    assert one["gold_after"] == 512 and two["gold_after"] == 488
    assert {"item_id": 5, "quantity": 497} in one["items_after"]
    assert {"item_id": 5, "quantity": 3} in two["items_after"]
    assert two["distinct_items"] == 3 and one["version"] == 2 and two["version"] == 2
    assert two["items_value"] == 450 * 10 + 449 * 5 + 3 * 6


def test_idempotent_trade_executes_once(store: Store) -> None:
    a = store.create_player(NewPlayer("farmer")).player_id
    b = store.create_player(NewPlayer("hunter")).player_id
    request = _trade(a, b, a_gold=5)
    idem = Idempotency.for_request("trades", "k-1", request.to_document())
    first = store.execute_trade(request, idem)
    again = store.execute_trade(request, idem)
    assert first == again
    assert store.get_player(a).gold == 495
    other = Idempotency.for_request("trades", "k-1", _trade(a, b, a_gold=6).to_document())
    with pytest.raises(IdempotencyKeyReused):
        store.execute_trade(_trade(a, b, a_gold=6), other)
    assert store.get_player(a).gold == 495


def test_idempotent_player_creation_creates_once(store: Store) -> None:
    idem = Idempotency.for_request("players", "p-1", {"player_class": "farmer"})
    first = store.create_player(NewPlayer("farmer"), idem)
    assert store.create_player(NewPlayer("farmer"), idem) == first
    assert store.player_ids() == [first.player_id]


def test_consumer_positions_and_release(store: Store) -> None:
    for _ in range(3):
        store.create_player(NewPlayer("farmer"))
    assert store.consumer_position("relay") == 0
    head = store.outbox_head()
    store.commit_position("relay", head - 1)
    assert store.consumer_position("relay") == head - 1
    store.release_outbox(head - 1)
    assert [e.seq for e in store.read_outbox(after=0)] == [head]


def test_random_trades_conserve_gold_and_items(store: Store, catalog: Catalog) -> None:
    rng = random.Random(7)
    ids = [
        store.create_player(NewPlayer(rng.choice(list(catalog.classes)))).player_id
        for _ in range(12)
    ]
    gen = TradeGenerator(3, snapshot(store))
    assert gen.ids == sorted(ids)
    outcomes: Counter[str] = Counter()
    for _ in range(1500):
        outcome = store.execute_trade(gen.next())
        gen.observe(outcome)
        outcomes[outcome.status] += 1
    assert outcomes["accepted"] > 300 and outcomes["rejected"] > 100
    assert holdings(store) == supply(catalog, store)
    kinds = Counter(e["event_type"] for e in outbox_events(store))
    assert kinds == {
        "player_created": 12,
        "trade_accepted": outcomes["accepted"],
        "trade_rejected": outcomes["rejected"],
    }
