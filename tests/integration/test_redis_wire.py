"""The trade script run from the event loop (store/redis_wire.py) against a real
redis-server: same outcomes as the sync path, batches pipelined on one connection stay
atomic and in order, a flushed script cache or a frozen Redis is survived without running
anything twice, and refusals are StoreUnavailable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.domain.errors import BazaarError, IdempotencyKeyReused, StoreUnavailable
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, Rejected, TradeOutcome
from bazaar.store.base import Idempotency, TradeCall
from bazaar.store.redis import RedisStore
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.redis_server import RedisServer, redis_server  # noqa: F401 - fixture
from tests.support.trades import TradeGenerator, add_players, snapshot

CATALOG = load_catalog()


@pytest.fixture
def store(redis_server: RedisServer) -> Iterator[RedisStore]:  # noqa: F811
    store = RedisStore.from_url(redis_server.fresh_url(), CATALOG)
    add_players(store, 12)
    yield store
    store.close()


def _calls(store: RedisStore, seed: int, count: int) -> list[TradeCall]:
    gen = TradeGenerator(seed, snapshot(store))
    return [(gen.next(), None) for _ in range(count)]


def test_event_loop_path_is_used_for_a_tcp_url(store: RedisStore) -> None:
    assert store.capabilities.async_trades


def test_a_unix_socket_url_stays_on_the_sync_client(catalog: Catalog) -> None:
    store = RedisStore.from_url("unix:///tmp/no-such-redis.sock", catalog)
    assert not store.capabilities.async_trades
    store.close()


def test_pipelined_batches_are_each_atomic_and_conserve_everything(store: RedisStore) -> None:
    batches = [_calls(store, seed, 40) for seed in range(6)]

    async def run() -> list[list[TradeOutcome | BazaarError]]:
        return await asyncio.gather(*(store.execute_trades_async(b) for b in batches))

    answers = asyncio.run(run())
    outcomes = [o for answer in answers for o in answer]
    assert len(outcomes) == 240
    assert all(isinstance(o, Accepted | Rejected) for o in outcomes)
    ids = sorted(o.trade_id for o in outcomes if isinstance(o, Accepted | Rejected))
    assert ids == list(range(1, 241)), "one trade id each, no gap, nothing run twice"
    for answer in answers:  # a batch is one script run: its ids are consecutive
        batch_ids = [o.trade_id for o in answer if isinstance(o, Accepted | Rejected)]
        assert batch_ids == list(range(batch_ids[0], batch_ids[0] + len(batch_ids)))
    for o in outcomes[:20]:
        assert isinstance(o, Accepted | Rejected)
        assert store.get_trade(o.trade_id) == o, "the answer is what was recorded"
    assert holdings(store) == supply(CATALOG, store)
    traded = [e for e in outbox_events(store) if "trade_id" in e["payload"]]
    assert len(traded) == 240


def test_same_outcomes_as_the_sync_path(redis_server: RedisServer) -> None:  # noqa: F811
    stores = [RedisStore.from_url(redis_server.fresh_url(), CATALOG) for _ in range(2)]
    for store in stores:
        add_players(store, 8)
    calls = _calls(stores[0], 7, 60)
    sync = stores[0].execute_trades(calls)
    on_loop = asyncio.run(stores[1].execute_trades_async(calls))
    strip = [(type(o), getattr(o, "reason", None)) for o in sync]
    assert [(type(o), getattr(o, "reason", None)) for o in on_loop] == strip
    assert snapshot(stores[0]) == snapshot(stores[1])
    for store in stores:
        store.close()


def test_idempotency_on_the_event_loop(store: RedisStore) -> None:
    request = TradeRequest(TradeSide(1, gold=3), TradeSide(2))
    other = TradeRequest(TradeSide(1, gold=4), TradeSide(2))
    key = Idempotency.for_request("trades", "k1", request.to_document())
    reuse = Idempotency(key.key, "another-fingerprint")

    async def run() -> list[TradeOutcome | BazaarError]:
        first = await store.execute_trades_async([(request, key)])
        again = await store.execute_trades_async([(request, key), (other, reuse)])
        return first + again

    first, again, reused = asyncio.run(run())
    assert isinstance(first, Accepted)
    assert again == first, "the recorded outcome, not a second trade"
    assert isinstance(reused, IdempotencyKeyReused)
    assert store.outbox_head() == 12 + 1


def test_a_flushed_script_cache_is_reloaded_and_runs_once(store: RedisStore) -> None:
    request = TradeRequest(TradeSide(1, (ItemLine(*_held(store, 1)),)), TradeSide(2, gold=1))

    async def run() -> list[TradeOutcome | BazaarError]:
        before = await store.execute_trades_async([(request, None)])
        store.client.script_flush()
        return before + await store.execute_trades_async([(request, None)])

    outcomes = asyncio.run(run())
    assert [type(o) for o in outcomes] == [Accepted, Accepted]
    assert store.outbox_head() == 12 + 2, "each trade recorded exactly once"


def test_a_frozen_redis_is_store_unavailable_then_recovers(
    redis_server: RedisServer,  # noqa: F811
    store: RedisStore,
) -> None:
    calls = _calls(store, 3, 5)

    async def run() -> tuple[BaseException | None, float, list[TradeOutcome | BazaarError]]:
        failure: BaseException | None = None
        started = time.monotonic()
        with redis_server.stopped():
            try:
                await store.execute_trades_async(calls)
            except StoreUnavailable as exc:
                failure = exc
        waited = time.monotonic() - started
        return failure, waited, await store.execute_trades_async(calls)

    failure, waited, after = asyncio.run(run())
    assert isinstance(failure, StoreUnavailable)
    assert waited < 5
    assert all(isinstance(o, Accepted | Rejected) for o in after)
    time.sleep(0.2)  # the timed-out batch may have run once Redis resumed: never twice
    assert holdings(store) == supply(CATALOG, store)
    recorded = int(store.client.get(store.redis.key("seq", "trade")) or 0)
    assert recorded in (5, 10)
    traded = [e for e in outbox_events(store) if "trade_id" in e["payload"]]
    assert len(traded) == recorded


def test_a_refused_login_is_store_unavailable(redis_server: RedisServer) -> None:  # noqa: F811
    url = redis_server.fresh_url().replace("redis://", "redis://:wrong-password@")
    store = RedisStore.from_url(url, CATALOG)
    request = TradeRequest(TradeSide(1, gold=1), TradeSide(2))
    with pytest.raises(StoreUnavailable):
        asyncio.run(store.execute_trades_async([(request, None)]))
    store.close()


def _held(store: RedisStore, player_id: int) -> tuple[int, int]:
    item_id = min(store.get_player(player_id).items)
    return item_id, 1
