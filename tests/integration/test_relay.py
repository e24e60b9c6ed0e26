"""The outbox relay against a real Kafka-protocol broker (Tansu): trades go in through the
HTTP API, and the topic must end up holding every outbox event, in per-player order, as
the documented contract says, through a broker outage and a relay crash."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp
import httpx
import orjson
import pytest

from bazaar.store.base import OutboxEntry, Store
from bazaar.stream.contract import contract_violations
from bazaar.stream.relay import RELAY_CONSUMER
from tests.support.broker import ConsumedMessage, KafkaBroker
from tests.support.server import running_server
from tests.support.stores import open_url
from tests.support.trades import TradeGenerator, snapshot

PARTITIONS = 6


def outbox(store: Store) -> list[OutboxEntry]:
    entries: list[OutboxEntry] = []
    after = 0
    while batch := store.read_outbox(after=after, limit=5000):
        entries.extend(batch)
        after = batch[-1].seq
    return entries


def assert_topic_holds_outbox(
    messages: list[ConsumedMessage], entries: list[OutboxEntry], *, redelivered: bool
) -> Counter[str]:
    """Every outbox event is in the topic, byte for byte, keyed by its player; each
    player's events come in commit order. Returns how often each event_id was seen."""
    by_id = {e.event_id: e for e in entries}
    seen: Counter[str] = Counter()
    first_seqs: dict[tuple[int, bytes | None], list[int]] = defaultdict(list)
    key_partitions: dict[bytes | None, set[int]] = defaultdict(set)
    for msg in sorted(messages, key=lambda m: (m.partition, m.offset)):
        event_id = orjson.loads(msg.value)["event_id"]
        entry = by_id.get(event_id)
        assert entry is not None, f"topic holds an event the outbox never had: {event_id}"
        assert msg.value == entry.body, "the wire value is exactly the outbox body"
        assert msg.key == entry.key.encode()
        key_partitions[msg.key].add(msg.partition)
        if not seen[event_id]:
            first_seqs[(msg.partition, msg.key)].append(entry.seq)
        seen[event_id] += 1
    missing = set(by_id) - set(seen)
    assert not missing, f"{len(missing)} of {len(by_id)} outbox events never reached Kafka"
    if not redelivered:
        dupes = [i for i, n in seen.items() if n > 1]
        assert not dupes, f"{len(dupes)} events were published twice without any redelivery"
    assert all(len(p) == 1 for p in key_partitions.values()), "one partition per player"
    for (_, key), seqs in first_seqs.items():
        assert seqs == sorted(seqs), f"player {key!r}: events out of commit order"
    return seen


def assert_contract(messages: list[ConsumedMessage]) -> None:
    """Every produced event validates against its published JSON Schema."""
    kinds: Counter[str] = Counter()
    for msg in messages:
        doc = orjson.loads(msg.value)
        assert contract_violations(doc) == [], doc
        kinds[doc["event_type"]] += 1
    assert set(kinds) == {"player_created", "trade_accepted", "trade_rejected"}, kinds


@dataclass
class Load:
    """Trades sent through the API by concurrent clients, with when each was answered."""

    answered: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, status)

    def accepted_between(self, start: float, end: float) -> int:
        return sum(1 for t, status in self.answered if start <= t <= end and status == 200)


async def _drive(api: str, gen: TradeGenerator, trades: int, load: Load, clients: int) -> None:
    # aiohttp, not httpx: httpx's async client costs ~8x more CPU per request, and the
    # load generator shares the two cores with the server.
    remaining = iter(range(trades))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base_url=api, connector=connector) as session:

        async def one_client() -> None:
            for _ in remaining:
                request = gen.next()
                body = {
                    "player_1": request.player_1.to_document(),
                    "player_2": request.player_2.to_document(),
                }
                async with session.post("/trades", json=body) as response:
                    text = await response.text()
                    assert response.status in (200, 409), text
                load.answered.append((time.monotonic(), response.status))

        await asyncio.gather(*(one_client() for _ in range(clients)))


def send_trades(api: str, store: Store, trades: int, *, clients: int = 24) -> Load:
    gen = TradeGenerator(seed=trades, view=snapshot(store))
    load = Load()
    asyncio.run(_drive(api, gen, trades, load, clients))
    return load


def create_players(api: str, count: int) -> None:
    with httpx.Client(base_url=api, timeout=30) as client:
        for _ in range(count):
            assert client.post("/players", json={}).status_code == 201


def wait_relayed(api: str, timeout: float = 90.0) -> dict[str, object]:
    """Poll GET /health until the relay reports no lag; returns the relay section."""
    deadline = time.monotonic() + timeout
    while True:
        relay = httpx.get(f"{api}/health", timeout=10).json()["relay"]
        if relay["lag"] == 0 and relay["in_flight"] == 0:
            return dict(relay)
        assert time.monotonic() < deadline, f"relay did not catch up: {relay}"
        time.sleep(0.2)


@pytest.mark.slow
def test_20000_trades_through_the_api_reach_kafka_once_each_in_player_order(
    store_url: str, kafka_broker: KafkaBroker
) -> None:
    topic = kafka_broker.fresh_topic("relay")
    kafka = ["--kafka", kafka_broker.bootstrap, "--topic", topic]
    with running_server(store_url, extra=kafka) as api:
        create_players(api, 200)
        store = open_url(store_url)
        try:
            send_trades(api, store, 20_000)
            relay = wait_relayed(api)
            entries = outbox(store)
        finally:
            store.close()
    assert relay["broker"] == "up"
    assert len(entries) == 20_200
    messages = kafka_broker.consume(topic, expect=len(entries))
    seen = assert_topic_holds_outbox(messages, entries, redelivered=False)
    assert len(messages) == len(seen) == 20_200, "exactly one message per event"
    assert {m.partition for m in messages} == set(range(PARTITIONS)), "topic auto-created"
    assert_contract(messages[:: max(1, len(messages) // 3000)])


def test_trades_are_accepted_while_the_broker_is_frozen_and_none_is_lost(
    kafka_broker: KafkaBroker, tmp_path: object
) -> None:
    store_url = f"sqlite:///{tmp_path}/bazaar.db"
    topic = kafka_broker.fresh_topic("outage")
    kafka = ["--kafka", kafka_broker.bootstrap, "--topic", topic]
    with running_server(store_url, extra=kafka) as api:
        create_players(api, 50)
        store = open_url(store_url)
        try:
            load = Load()
            gen = TradeGenerator(seed=7, view=snapshot(store))
            sender = threading.Thread(target=lambda: asyncio.run(_drive(api, gen, 6000, load, 8)))
            sender.start()
            time.sleep(0.5)
            with kafka_broker.paused():
                paused_at = time.monotonic()
                time.sleep(4.0)
                during = httpx.get(f"{api}/health", timeout=10).json()["relay"]
                time.sleep(1.0)
                resumed_at = time.monotonic()
            sender.join()
            relay = wait_relayed(api)
            entries = outbox(store)
        finally:
            store.close()
    assert load.accepted_between(paused_at, resumed_at) > 50, "the API kept accepting trades"
    assert during["broker"] == "unreachable", during
    assert during["lag"] > 0, during
    assert relay["broker"] == "up"
    messages = kafka_broker.consume(topic, expect=len(entries))
    assert_topic_holds_outbox(messages, entries, redelivered=False)
    assert_contract(messages)


@contextmanager
def relay_process(store_url: str, bootstrap: str, topic: str) -> Iterator[subprocess.Popen[bytes]]:
    cmd = [sys.executable, "-m", "bazaar", "relay", "--store", store_url, "--kafka", bootstrap]
    proc = subprocess.Popen(
        [*cmd, "--topic", topic, "--progress-every", "0.5"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def wait_position(store: Store, at_least: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while (position := store.consumer_position(RELAY_CONSUMER)) < at_least:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, f"relay stuck at {position}"
        time.sleep(0.05)
    return position


def test_relay_killed_mid_run_resumes_without_losing_an_event(
    kafka_broker: KafkaBroker, tmp_path: object
) -> None:
    store_url = f"sqlite:///{tmp_path}/bazaar.db"
    topic = kafka_broker.fresh_topic("crash")
    with running_server(store_url) as api:
        create_players(api, 50)
        store = open_url(store_url)
        try:
            load = Load()
            gen = TradeGenerator(seed=11, view=snapshot(store))
            sender = threading.Thread(target=lambda: asyncio.run(_drive(api, gen, 8000, load, 8)))
            sender.start()
            with relay_process(store_url, kafka_broker.bootstrap, topic) as first:
                killed_at = wait_position(store, 1500, first)
                os.kill(first.pid, signal.SIGKILL)
            with relay_process(store_url, kafka_broker.bootstrap, topic) as second:
                sender.join()
                wait_position(store, store.outbox_head(), second)
                second.send_signal(signal.SIGTERM)
                assert second.wait(timeout=15) == 0, "SIGTERM stops the relay cleanly"
            entries = outbox(store)
            assert store.consumer_position(RELAY_CONSUMER) == entries[-1].seq
        finally:
            store.close()
    assert killed_at < len(entries)
    messages = kafka_broker.consume(topic, expect=len(entries))
    seen = assert_topic_holds_outbox(messages, entries, redelivered=True)
    assert len(seen) == len(entries) == 8050


def test_serve_with_workers_runs_one_relay_and_reports_it_in_health(
    kafka_broker: KafkaBroker, tmp_path: object
) -> None:
    store_url = f"sqlite:///{tmp_path}/bazaar.db"
    topic = kafka_broker.fresh_topic("workers")
    kafka = ["--kafka", kafka_broker.bootstrap, "--topic", topic]
    with running_server(store_url, workers=2, extra=kafka) as api:
        create_players(api, 40)
        store = open_url(store_url)
        try:
            send_trades(api, store, 1000, clients=8)
            deadline = time.monotonic() + 60
            while (relay := httpx.get(f"{api}/health", timeout=10).json()["relay"])["lag"]:
                assert time.monotonic() < deadline, relay
                time.sleep(0.2)
            entries = outbox(store)
        finally:
            store.close()
    assert relay["broker"] == "up"
    assert relay["position"] == relay["head"] == entries[-1].seq
    messages = kafka_broker.consume(topic, expect=len(entries))
    seen = assert_topic_holds_outbox(messages, entries, redelivered=False)
    assert len(messages) == len(seen) == 1040, "one relay, not one per worker"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("acks=1", "acks=all"),
        ("enable.idempotence=false", "enable.idempotence"),
        ("x", "key=value"),
    ],
)
def test_relay_refuses_settings_that_could_lose_events(
    flag: str, message: str, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from bazaar.cli.main import main

    argv = ["relay", "--store", f"sqlite:///{tmp_path}/b.db", "--kafka", "127.0.0.1:1"]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--kafka-config", flag])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
