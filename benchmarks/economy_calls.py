"""In-process economy throughput (#19): offers (each escrows its gives, then is accepted,
declined or cancelled: two store steps) and grants/consumptions per second, from a pool of
threads, on one store. Store calls only (no HTTP).

    python -m benchmarks.economy_calls --store sqlite --players 500 --ops 20000
    python -m benchmarks.economy_calls --store redis --threads 8   # starts a throwaway redis
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.store_calls import _throwaway_redis

from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from bazaar.domain.errors import BazaarError
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, OfferAction
from bazaar.store.base import Store

FOOD = 5  # farmers start with 500


def _timed(
    url: str, threads: int, work: Callable[[Store, random.Random, int], None], ops: int
) -> float:
    per = ops // threads
    gate = threading.Barrier(threads + 1)

    def run(n: int) -> None:
        store = open_store(url, load_catalog())
        rng = random.Random(n)
        gate.wait()
        for i in range(per):
            with contextlib.suppress(BazaarError):  # a refused hold is a step too
                work(store, rng, i)
        store.close()

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    gate.wait()
    began = time.perf_counter()
    for t in pool:
        t.join()
    return per * threads / (time.perf_counter() - began)


def one_run(url: str, players: int, ops: int, threads: int) -> dict[str, float]:
    store = open_store(url, load_catalog())
    ids = [store.create_player(NewPlayer("farmer")).player_id for _ in range(players)]
    store.close()
    actions = [OfferAction.ACCEPT, OfferAction.DECLINE, OfferAction.CANCEL]

    def offer(s: Store, rng: random.Random, i: int) -> None:
        a, b = rng.sample(ids, 2)
        made = s.create_offer(
            TradeRequest(TradeSide(a, (ItemLine(FOOD, 1),)), TradeSide(b, gold=1)), 600
        )
        s.act_on_offer(made.offer_id, actions[i % 3], SERVER)

    def adjust(s: Store, rng: random.Random, i: int) -> None:
        kind = AdjustmentKind.GRANT if i % 2 == 0 else AdjustmentKind.CONSUMPTION
        s.adjust(Adjustment(kind, rng.choice(ids), (), 3, "loot"))

    return {
        "offers/s": _timed(url, threads, offer, ops),
        "grants+consumptions/s": _timed(url, threads, adjust, ops),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", default="sqlite", help="sqlite | redis | a store URL")
    ap.add_argument("--players", type=int, default=500)
    ap.add_argument("--ops", type=int, default=10_000, help="offers, then adjustments, per run")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    results: dict[str, list[float]] = {}
    for run in range(args.runs):
        tmp = Path(tempfile.mkdtemp(prefix="bazaar-economy-"))
        redis_proc = None
        if args.store == "sqlite":
            url = f"sqlite:///{tmp / 'bazaar.db'}"
        elif args.store == "redis":
            url, redis_proc = _throwaway_redis()
        else:
            url = args.store
        try:
            figures = one_run(url, args.players, args.ops, args.threads)
        finally:
            if redis_proc is not None:
                redis_proc.terminate()
                redis_proc.wait()
            shutil.rmtree(tmp, ignore_errors=True)
        print(
            f"run {run + 1}: " + "  ".join(f"{k} {v:,.0f}" for k, v in figures.items()), flush=True
        )
        for k, v in figures.items():
            results.setdefault(k, []).append(v)
    for k, values in results.items():
        low, high = min(values), max(values)
        print(f"{k}: median {statistics.median(values):,.0f} (min {low:,.0f}, max {high:,.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
