"""Many concurrent clients on one store: nothing created or destroyed, one event per outcome.

The replaced system duplicated gold under exactly this load (read-modify-write, no lock).
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter
from collections.abc import Mapping

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.model import NewPlayer
from bazaar.store.base import Store
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.stores import open_url
from tests.support.trades import TradeGenerator, snapshot

PLAYERS = 50
TRADES = 50_000
CLIENTS = 64
PROCESSES = 4


def _fire(
    store: Store, likely: Mapping[int, Mapping[int, int]], seed: int, count: int
) -> list[tuple[int, str]]:
    gen = TradeGenerator(seed, likely)
    done = []
    for _ in range(count):
        outcome = store.execute_trade(gen.next())
        gen.observe(outcome)
        done.append((outcome.trade_id, outcome.status))
    return done


def _threads(
    store: Store, likely: Mapping[int, Mapping[int, int]], seed: int, clients: int, per_client: int
) -> list[tuple[int, str]]:
    results: list[tuple[int, str]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def client(n: int) -> None:
        try:
            done = _fire(store, likely, seed * 1000 + n, per_client)
        except BaseException as exc:
            errors.append(exc)
            return
        with lock:
            results.extend(done)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    return results


def _process_main(
    url: str,
    likely: dict[int, dict[int, int]],
    seed: int,
    clients: int,
    per_client: int,
    out: multiprocessing.Queue,
) -> None:  # type: ignore[type-arg]
    store = open_url(url)
    out.put(_threads(store, likely, seed, clients, per_client))
    store.close()


def _populate(store: Store, catalog: Catalog) -> dict[int, dict[int, int]]:
    rng = random.Random(1)
    for _ in range(PLAYERS):
        store.create_player(NewPlayer(catalog.draw_class(rng).name))
    return snapshot(store)


def _assert_guarantees(store: Store, catalog: Catalog, results: list[tuple[int, str]]) -> None:
    assert len(results) == TRADES
    statuses = Counter(status for _, status in results)
    assert statuses["accepted"] > TRADES // 4, statuses
    assert holdings(store) == supply(catalog, store), "gold or items created or destroyed"
    events = outbox_events(store)
    by_kind = Counter(e["event_type"] for e in events)
    assert by_kind == {
        "player_created": PLAYERS,
        "trade_accepted": statuses["accepted"],
        "trade_rejected": statuses["rejected"],
    }
    trade_ids = [e["payload"]["trade_id"] for e in events if e["event_type"] != "player_created"]
    assert sorted(trade_ids) == sorted(tid for tid, _ in results), "one event per trade"
    assert len({e["event_id"] for e in events}) == len(events)
    # Every player's versions in the outbox rise by one per accepted trade, with no gap.
    versions: dict[int, dict[int, int]] = {}
    for e in events:
        if e["event_type"] == "trade_accepted":
            for side in ("player_1", "player_2"):
                p = e["payload"][side]
                versions.setdefault(p["player_id"], []).append(p["version"])
    for pid, seen in versions.items():
        assert seen == list(range(2, len(seen) + 2)), f"player {pid} versions out of order"


@pytest.mark.slow
def test_many_threads_conserve_everything(store: Store, catalog: Catalog) -> None:
    likely = _populate(store, catalog)
    results = _threads(store, likely, seed=11, clients=CLIENTS, per_client=TRADES // CLIENTS)
    results += _fire(store, likely, 99, TRADES - len(results))
    _assert_guarantees(store, catalog, results)


@pytest.mark.slow
def test_several_processes_conserve_everything(
    store_url: str, store: Store, catalog: Catalog
) -> None:
    likely = _populate(store, catalog)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    per_client = TRADES // CLIENTS
    procs = [
        ctx.Process(
            target=_process_main,
            args=(store_url, likely, 20 + n, CLIENTS // PROCESSES, per_client, out),
        )
        for n in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    results: list[tuple[int, str]] = []
    for _ in procs:
        results.extend(out.get(timeout=300))
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    results += _fire(store, likely, 99, TRADES - len(results))
    _assert_guarantees(store, catalog, results)
