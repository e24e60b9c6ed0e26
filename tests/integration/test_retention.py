"""Bounded state, store by store (real SQLite files, real redis-server): the sweeper releases
only what every registered consumer passed and what is older than the retention, drops old
trade records, resolved offers and grant / consumption records, and says "archived" for
trades and offers afterwards.

Every instant is the run's own clock (`time.time()`) plus offsets; sweeps are run by hand
with `now` moved forward, so no test sleeps through a retention.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from bazaar.domain.errors import (
    ArchivedOffer,
    ArchivedTrade,
    OutboxReleased,
    UnknownOffer,
    UnknownTrade,
)
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.offers import Actor, OfferAction
from bazaar.lake.sources import OutboxSource
from bazaar.lake.writer import LakeWriter
from bazaar.store.base import Idempotency, Store
from bazaar.store.outbox import check_contiguous
from bazaar.store.redis import RedisStore
from bazaar.store.retention import (
    RetentionPolicy,
    outbox_status,
    parse_duration,
    sweep_once,
)
from bazaar.store.sqlite import SQLiteStore

POLICY = RetentionPolicy(outbox=2.0, trades=2.0, consumer_timeout=60.0, idempotency_window=2.0)


def _gift(a: int, b: int, gold: int = 1) -> TradeRequest:
    return TradeRequest(TradeSide(a, (), gold), TradeSide(b, (), 0))


def _players(store: Store, n: int = 2) -> list[int]:
    return [store.create_player(NewPlayer("farmer")).player_id for _ in range(n)]


def _all_seqs(store: Store, after: int) -> list[int]:
    return [e.seq for e in store.read_outbox(after=after, limit=100_000)]


def test_outbox_is_released_only_behind_every_registered_consumer(store: Store) -> None:
    a, b = _players(store)
    for _ in range(20):
        store.execute_trade(_gift(a, b))
    head = store.outbox_head()
    store.register_consumer("relay", 0)
    store.register_consumer("lake:/data/lake", 0)
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    assert sweep_once(store, POLICY, t0 + 3).released == 0, "nobody has read anything"
    store.commit_position("relay", head)
    store.commit_position("lake:/data/lake", head - 5)
    report = sweep_once(store, POLICY, t0 + 3)
    assert report.released == head - 5
    assert store.outbox_released() == head - 5
    assert _all_seqs(store, head - 5) == list(range(head - 4, head + 1)), "the lake's share stays"
    status = outbox_status(store, POLICY.consumer_timeout)
    assert status.held == 5 and status.held_by == "lake:/data/lake"
    assert {c.name: c.lag for c in status.consumers} == {"lake:/data/lake": 5, "relay": 0}


def test_entries_younger_than_the_outbox_retention_stay(store: Store) -> None:
    a, b = _players(store)
    store.register_consumer("relay", 0)
    t0 = time.time()
    sweep_once(store, POLICY, t0)  # the mark: what exists now
    old_head = store.outbox_head()
    for _ in range(10):
        store.execute_trade(_gift(a, b))
    store.commit_position("relay", store.outbox_head())
    sweep_once(store, POLICY, t0 + 1)  # newer entries marked 1 s later
    assert sweep_once(store, POLICY, t0 + 2.5).released == old_head, "only what is 2 s old"
    assert _all_seqs(store, old_head)[0] == old_head + 1


def test_no_registered_consumer_means_nothing_is_released(store: Store) -> None:
    a, b = _players(store)
    store.execute_trade(_gift(a, b))
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    assert sweep_once(store, POLICY, t0 + 10).released == 0
    assert _all_seqs(store, 0)[0] == 1


def test_a_silent_consumer_is_reported_and_holds_until_dropped(store: Store) -> None:
    a, b = _players(store)
    store.register_consumer("relay", 0)
    store.register_consumer("lake:/old", 0)
    for _ in range(5):
        store.execute_trade(_gift(a, b))
    head = store.outbox_head()
    policy = RetentionPolicy(outbox=0.1, trades=2.0, consumer_timeout=0.5, idempotency_window=1)
    sweep_once(store, policy)
    time.sleep(0.7)  # longer than the consumer timeout; only the relay records again
    store.commit_position("relay", head)
    report = sweep_once(store, policy)
    assert report.stale == ["lake:/old"] and report.released == 0, "stale still holds"
    status = outbox_status(store, policy.consumer_timeout)
    assert status.degraded and [c.name for c in status.stale] == ["lake:/old"]
    assert status.held == head and status.held_by == "lake:/old"
    assert store.drop_consumer("lake:/old") and not store.drop_consumer("lake:/old")
    assert sweep_once(store, policy).released == head
    assert outbox_status(store, policy.consumer_timeout).held == 0


def test_a_reader_behind_a_release_stops_instead_of_skipping(
    store: Store, tmp_path: object
) -> None:
    a, b = _players(store)
    for _ in range(10):
        store.execute_trade(_gift(a, b))
    head = store.outbox_head()
    store.register_consumer("relay", head)
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    sweep_once(store, POLICY, t0 + 3)
    assert store.outbox_released() == head
    with pytest.raises(OutboxReleased) as raised:
        check_contiguous(store, 3, None)
    assert raised.value.reason == "outbox_released"
    check_contiguous(store, head, None)  # at the release point: nothing is missing
    # A new lake (position 0) on this store must not silently start after the gap.
    writer = LakeWriter(f"{tmp_path}/lake").open()
    source = OutboxSource(store)
    source.start(writer, lambda _: None)
    with pytest.raises(OutboxReleased):
        source.poll(100, 0.1)


def test_old_trade_records_are_dropped_and_answer_archived(store: Store) -> None:
    a, b = _players(store)
    old = [store.execute_trade(_gift(a, b)) for _ in range(30)]
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    new = store.execute_trade(_gift(a, b))
    report = sweep_once(store, POLICY, t0 + 3)
    assert report.trades == 30
    with pytest.raises(ArchivedTrade) as raised:
        store.get_trade(old[0].trade_id)
    assert raised.value.reason == "archived"
    with pytest.raises(ArchivedTrade):
        store.get_trade(old[-1].trade_id)
    assert store.get_trade(new.trade_id) == new, "younger than the retention: kept"
    with pytest.raises(UnknownTrade):
        store.get_trade(new.trade_id + 1)
    assert store.archived().trades == old[-1].trade_id


def test_idempotent_replay_still_returns_the_original_answer(store: Store) -> None:
    store.idempotency_ttl = 2
    a, b = _players(store)
    idem = Idempotency.for_request("trades", "k-1", {"gift": 1})
    first = store.execute_trade(_gift(a, b), idem)
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    sweep_once(store, POLICY, t0 + 3)  # the record is dropped by a sweep far ahead
    with pytest.raises(ArchivedTrade):
        store.get_trade(first.trade_id)
    assert store.execute_trade(_gift(a, b), idem) == first, "same key: the original answer"
    assert store.get_player(a).gold == 499, "and the trade ran once"


def test_resolved_offers_leave_open_ones_stay_and_history_says_archived(store: Store) -> None:
    a, b = _players(store)
    give = TradeRequest(TradeSide(a, (ItemLine(5, 1),), 0), TradeSide(b, (), 1))
    declined = store.create_offer(give, 3600)
    store.act_on_offer(declined.offer_id, OfferAction.DECLINE, Actor(b))
    still_open = store.create_offer(give, 3600)
    store.execute_trade(_gift(a, b))
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    report = sweep_once(store, POLICY, t0 + 3)
    assert report.offers == 1
    with pytest.raises(ArchivedOffer):
        store.get_offer(declined.offer_id)
    assert store.get_offer(still_open.offer_id).status.value == "open"
    assert [o.offer_id for o in store.list_offers(a)] == [still_open.offer_id]
    page = store.player_history(a)
    assert page.archived and page.next_cursor is None
    assert all(e.kind == "offer" for e in page.entries), "trades of the past are archived"
    store.act_on_offer(still_open.offer_id, OfferAction.CANCEL, Actor(a))
    assert sweep_once(store, POLICY, t0 + 4).offers == 1, "dropped once resolved"
    with pytest.raises(ArchivedOffer):
        store.get_offer(still_open.offer_id)
    with pytest.raises(UnknownOffer):
        store.get_offer(still_open.offer_id + 5)


def _kept_adjustments(store: Store) -> list[int]:
    """The grant / consumption records the store still keeps, read from its own storage."""
    if isinstance(store, SQLiteStore):
        with sqlite3.connect(store.path) as db:
            return [r[0] for r in db.execute("SELECT adjustment_id FROM adjustments ORDER BY 1")]
    assert isinstance(store, RedisStore)
    keys = store.redis.client.keys(store.redis.key("*adjust*"))
    assert keys == [store.redis.key("seq", "adjustment").encode()], "only the id sequence"
    return []


def test_old_grant_and_consumption_records_leave_and_a_retry_gets_its_answer(
    store: Store,
) -> None:
    store.idempotency_ttl = 2
    (a,) = _players(store, 1)
    grant = Adjustment(AdjustmentKind.GRANT, a, (ItemLine(5, 2),), 10, "quest_reward")
    idem = Idempotency.for_request("grants", "g-1", {"gold": 10})
    first = store.adjust(grant, idem)
    repair = Adjustment(AdjustmentKind.CONSUMPTION, a, (), 1, "repair")
    old = [first.adjustment_id] + [store.adjust(repair).adjustment_id for _ in range(4)]
    t0 = time.time()
    sweep_once(store, POLICY, t0)
    young = store.adjust(Adjustment(AdjustmentKind.GRANT, a, (), 5, "loot"))
    keeps_records = isinstance(store, SQLiteStore)
    assert _kept_adjustments(store) == ([*old, young.adjustment_id] if keeps_records else [])
    report = sweep_once(store, POLICY, t0 + 3)
    assert report.adjustments == (len(old) if keeps_records else 0)
    assert _kept_adjustments(store) == ([young.adjustment_id] if keeps_records else [])
    assert sweep_once(store, POLICY, t0 + 4).adjustments == 0, "each record leaves once"
    assert store.adjust(grant, idem) == first, "same key: the original answer"
    player = store.get_player(a)
    assert player.gold == 500 + 10 - 4 + 5, "and the grant ran once"


def test_marks_are_pruned_to_what_the_retentions_need(store: Store) -> None:
    t0 = time.time()
    for n in range(20):
        sweep_once(store, POLICY, t0 + n)
    assert store.retention_mark(t0 + 0.5) is None, "marks older than needed are gone"
    mark = store.retention_mark(t0 + 19 - 2)
    assert mark is not None and mark.at == t0 + 17


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2s", 2.0), ("30", 30.0), ("15m", 900.0), ("1.5h", 5400.0), ("2d", 172800.0)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1w", "-2s", "0s", "soon"])
def test_bad_durations_are_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"30s|zero"):
        parse_duration(text, "--outbox-retention")


def test_trade_retention_never_shorter_than_the_idempotency_window() -> None:
    with pytest.raises(ValueError, match="idempotency window"):
        RetentionPolicy.parse(trades="1h", idempotency_window="48h")
    assert RetentionPolicy.parse(trades="2s", idempotency_window="2s").trades == 2.0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--trade-retention", "1h"], "idempotency window"),
        (["--outbox-retention", "soon"], "--outbox-retention: 'soon' is not a duration"),
    ],
)
def test_serve_refuses_retentions_it_cannot_keep(
    flags: list[str], message: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from bazaar.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--store", f"sqlite:///{tmp_path}/b.db", *flags])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err.replace("\n", " ")


def test_health_and_metrics_report_a_stale_consumer(store: Store) -> None:
    from starlette.testclient import TestClient

    from bazaar.api.app import combined_health, create_app
    from bazaar.store.retention import outbox_health
    from tests.integration.test_metrics import samples, total

    policy = RetentionPolicy(outbox=1.0, trades=1.0, consumer_timeout=0.3, idempotency_window=1)
    a, b = _players(store)
    store.execute_trade(_gift(a, b))
    store.register_consumer("lake:/gone", 1)
    health = combined_health(lambda: outbox_health(store, policy))
    with TestClient(create_app(store, health_provider=health)) as client:
        assert client.get("/health").json()["status"] == "ok"
        time.sleep(0.5)  # longer than the consumer timeout
        doc = client.get("/health").json()
        assert doc["status"] == "degraded" and "lake:/gone" in doc["degraded"][0]
        assert doc["outbox"]["held"] == 3 and doc["outbox"]["held_by"] == "lake:/gone"
        found = samples(client.get("/metrics").text)
    assert total(found, "bazaar_outbox_held_events") == 3
    assert total(found, "bazaar_outbox_consumer_silent_seconds", consumer="lake:/gone") >= 0.5
