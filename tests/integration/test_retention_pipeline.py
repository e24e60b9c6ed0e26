"""Bounded state with the whole pipeline running (real `bazaar serve`, relay and ingest
processes, the real Tansu broker, real Delta tables), on both stores: the outbox shrinks
behind its consumers and every event still reaches the topic and lands in the lake exactly
once, also when a consumer stops for a while or any process is SIGKILLed mid-release.

Retentions are 1 s (the sweeper then wakes every 0.5 s), so releases run all the time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from bazaar.cli.common import free_port
from bazaar.lake.batch import table_uri
from bazaar.lake.follower import lake_position
from bazaar.lake.tables import PRIMARY_TABLES
from bazaar.store.base import Store
from tests.integration.test_relay import create_players, send_trades
from tests.support.broker import KafkaBroker
from tests.support.stores import open_url

SHORT = [
    "--outbox-retention", "1s", "--trade-retention", "1s", "--idempotency-window", "1s",
]  # fmt: skip


def lake_events(lake: Path) -> Counter[int]:
    """How often each outbox seq landed in the lake (one row per event in exactly one of
    the primary tables)."""
    seen: Counter[int] = Counter()
    for table in PRIMARY_TABLES:
        try:
            rows = DeltaTable(table_uri(str(lake), table)).to_pyarrow_table(
                columns=["source", "position"]
            )
        except Exception:
            continue
        rows = rows.filter(pc.equal(rows["source"], "outbox"))
        seen.update(rows["position"].to_pylist())
    return seen


def lake_event_ids(lake: Path) -> set[str]:
    ids: set[str] = set()
    for table in PRIMARY_TABLES:
        try:
            ids |= set(DeltaTable(table_uri(str(lake), table)).to_pyarrow_table(
                columns=["event_id"])["event_id"].to_pylist())  # fmt: skip
        except Exception:
            continue
    return ids


def assert_lake_exactly_once(lake: Path, head: int) -> None:
    seen = lake_events(lake)
    doubled = [seq for seq, n in seen.items() if n > 1]
    assert not doubled, f"{len(doubled)} events landed twice, e.g. {doubled[:5]}"
    missing = set(range(1, head + 1)) - set(seen)
    assert not missing, f"{len(missing)} of {head} events never landed, e.g. {sorted(missing)[:5]}"


def wait_until(
    check: Callable[[], bool],
    what: str,
    timeout: float = 180.0,
    state: Callable[[], object] = lambda: "",
) -> None:
    """Generous timeouts: the machine may be shared, and everything here is 3-4 processes."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what} {state()}"
        time.sleep(0.1)


def positions(store: Store) -> Callable[[], object]:
    return lambda: (store.outbox_head(), store.outbox_released(), store.consumers())


class Process:
    """A bazaar command as its own process group, which a test may SIGKILL and restart."""

    def __init__(self, *argv: str, ready: str | None = None) -> None:
        self.argv = [sys.executable, "-m", "bazaar", *argv]
        self.ready = ready  # a URL that answers once the process serves
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        self.proc = subprocess.Popen(
            self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        if self.ready is not None:
            ready = self.ready

            def up() -> bool:
                assert self.proc is not None and self.proc.poll() is None, self.stderr()
                try:
                    return httpx.get(ready, timeout=1).status_code == 200
                except httpx.TransportError:
                    return False

            wait_until(up, f"{self.argv[3]} to answer", 30)
        return self

    def stderr(self) -> str:
        if self.proc is None or self.proc.stderr is None or self.proc.poll() is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")[-3000:]

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
        self.proc.wait(timeout=20)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@contextmanager
def processes(*procs: Process) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            if p.alive():
                p.signal(signal.SIGKILL)


def serve(store_url: str, *extra: str) -> tuple[Process, str]:
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    argv = ["serve", "--store", store_url, "--port", str(port), *SHORT, *extra]
    return Process(*argv, ready=f"{api}/health"), api


def ingest(store_url: str, lake: Path) -> Process:
    return Process("ingest", "--store", store_url, "--lake", str(lake), "--follow",
                   "--flush-seconds", "0.2", "--quiet")  # fmt: skip


def relay(store_url: str, broker: KafkaBroker, topic: str) -> Process:
    return Process("relay", "--store", store_url, "--kafka", broker.bootstrap, "--topic", topic)


def outbox_rows(store: Store) -> int:
    return len(store.read_outbox(after=store.outbox_released(), limit=10_000_000))


def test_outbox_shrinks_behind_relay_and_lake_and_every_event_arrives_once(
    store_url: str, kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic, lake = kafka_broker.fresh_topic("retention"), tmp_path / "lake"
    server, api = serve(
        store_url, "--kafka", kafka_broker.bootstrap, "--topic", topic, "--lake", str(lake)
    )
    store = open_url(store_url)
    with processes(server.start()):
        create_players(api, 40)
        send_trades(api, store, 3000, clients=8)
        head = store.outbox_head()
        wait_until(lambda: store.outbox_released() >= head, "the outbox to be released")
        assert outbox_rows(store) < 200, "what every consumer passed has left the store"
        health = httpx.get(f"{api}/health", timeout=10).json()
        assert health["status"] == "ok", health
        names = {c["name"] for c in health["outbox"]["consumers"]}
        assert names == {"relay", f"lake:{lake}"}
        wait_until(lambda: store.archived().trades >= 1, "trade records to be dropped")
        first = httpx.get(f"{api}/trades/1", timeout=10)
        assert first.status_code == 200 and first.json()["source"] == "lake", first.text
        assert first.json()["trade_id"] == 1 and first.json()["status"] in ("accepted", "rejected")
        assert httpx.get(f"{api}/trades/99999999", timeout=10).status_code == 404
    messages = kafka_broker.consume(topic, expect=head)
    assert_lake_exactly_once(lake, head)
    from_topic = {m.value for m in messages}
    assert len(from_topic) == len(messages) == head, "the topic holds each event once"
    assert {orjson.loads(v)["event_id"] for v in from_topic} == lake_event_ids(lake)
    store.close()


def test_a_dropped_trade_is_410_archived_without_a_lake_and_replays_still_answer(
    store_url: str,
) -> None:
    server, api = serve(store_url)
    with processes(server.start()), httpx.Client(base_url=api, timeout=10) as client:
        a = client.post("/players", json={"player_class": "farmer"}).json()["player_id"]
        b = client.post("/players", json={"player_class": "farmer"}).json()["player_id"]
        body = {"player_1": {"player_id": a, "gold": 3}, "player_2": {"player_id": b}}
        key = {"Idempotency-Key": "gift-1"}
        first = client.post("/trades", json=body, headers=key)
        again = client.post("/trades", json=body, headers=key)
        assert first.status_code == again.status_code == 200
        assert again.json() == first.json(), "a replay within the window: the same answer"
        trade_id = first.json()["trade_id"]
        deadline = time.monotonic() + 30
        while (gone := client.get(f"/trades/{trade_id}")).status_code == 200:
            assert time.monotonic() < deadline, "the record was never dropped"
            time.sleep(0.2)
        assert gone.status_code == 410 and gone.json()["reason"] == "archived", gone.text
        history = client.get(f"/players/{a}/history").json()
        assert history["archived"] is True and history["entries"] == []
        assert client.get(f"/players/{a}").json()["gold"] == 497, "the trade ran once"
        store = open_url(store_url)
        assert store.outbox_released() == 0, "no consumer registered: the outbox holds all"
        store.close()


def test_a_stopped_ingest_holds_its_entries_then_catches_up(store_url: str, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    server, api = serve(store_url)
    store = open_url(store_url)
    follower = ingest(store_url, lake)
    with processes(server.start(), follower.start()):
        create_players(api, 20)
        send_trades(api, store, 800, clients=4)
        head = store.outbox_head()
        wait_until(lambda: lake_position(lake) >= head, "the lake to catch up")
        follower.signal(signal.SIGTERM)
        landed = lake_position(lake)
        send_trades(api, store, 800, clients=4)
        time.sleep(2.5)  # retention 1 s, sweeps every 0.5 s: they would have released
        assert store.outbox_released() <= landed, "nothing past what the lake holds"
        assert outbox_rows(store) == store.outbox_head() - store.outbox_released()
        status = subprocess.run(
            [sys.executable, "-m", "bazaar", "outbox", "status", "--store", store_url, "--json"],
            capture_output=True, check=True,
        )  # fmt: skip
        assert orjson.loads(status.stdout)["held_by"] == f"lake:{lake}", status.stdout
        follower = ingest(store_url, lake)
        with processes(follower.start()):
            head = store.outbox_head()
            wait_until(lambda: lake_position(lake) >= head, "the restarted ingest")
            wait_until(lambda: store.outbox_released() >= head, "the release after it")
    assert_lake_exactly_once(lake, head)
    store.close()


@pytest.mark.slow
def test_sigkill_of_relay_ingest_and_server_mid_release_loses_and_doubles_nothing(
    store_url: str, kafka_broker: KafkaBroker, tmp_path: Path
) -> None:
    topic, lake = kafka_broker.fresh_topic("retention-kill"), tmp_path / "lake"
    server, api = serve(store_url)
    forwarder, follower = relay(store_url, kafka_broker, topic), ingest(store_url, lake)
    store = open_url(store_url)
    stop = threading.Event()
    sent = Counter[str]()

    def load() -> None:
        # Plain sequential posts that shrug off the server being away; the event count
        # comes from the store's head, not from what this loop saw answered.
        n = 0
        while not stop.is_set():
            n += 1
            body = {"player_1": {"player_id": 1 + n % 20, "gold": 1},
                    "player_2": {"player_id": 1 + (n + 7) % 20}}  # fmt: skip
            try:
                httpx.post(f"{current[0]}/trades", json=body, timeout=5)
                sent["ok"] += 1
            except httpx.HTTPError:
                sent["failed"] += 1
                time.sleep(0.05)

    current = [api]
    with processes(server.start(), forwarder.start(), follower.start()):
        create_players(api, 20)
        sender = threading.Thread(target=load, daemon=True)
        sender.start()

        def releasing_past(seq: int) -> Callable[[], bool]:
            return lambda: store.outbox_released() > seq

        for victim in ("relay", "ingest", "server"):
            wait_until(
                releasing_past(store.outbox_released() + 200),
                f"releases ({victim}; processes alive:"
                f" {[p.alive() for p in (forwarder, follower, server)]})",
                state=positions(store),
            )
            if victim == "relay":
                forwarder.signal(signal.SIGKILL)
                forwarder = relay(store_url, kafka_broker, topic).start()
            elif victim == "ingest":
                follower.signal(signal.SIGKILL)
                follower = ingest(store_url, lake).start()
            else:
                server.signal(signal.SIGKILL)
                server, current[0] = serve(store_url)
                server.start()
        wait_until(
            releasing_past(store.outbox_released() + 200), "releases after", state=positions(store)
        )
        stop.set()
        sender.join(timeout=10)
        head = store.outbox_head()
        wait_until(lambda: lake_position(lake) >= head, "the lake to land everything")
        wait_until(lambda: store.consumer_position("relay") >= head, "the relay")
        wait_until(lambda: store.outbox_released() >= head, "the last release")
        for p in (forwarder, follower, server):
            p.signal(signal.SIGKILL)
    assert sent["ok"] > 500
    assert_lake_exactly_once(lake, head)
    messages = kafka_broker.consume(topic, expect=head)
    topic_ids = {orjson.loads(m.value)["event_id"] for m in messages}
    assert topic_ids == lake_event_ids(lake), "the topic holds every event (resends allowed)"
    store.close()
