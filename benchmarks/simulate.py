"""Simulator throughput: over HTTP against `bazaar serve` (SQLite), and in-process.

Each run uses a fresh SQLite file. Three figures, median of --runs runs:
  http        players + trades through `bazaar serve --workers W` with the aiohttp driver
  in-process  the same behaviour calling Store.execute_trades in batches (group commit),
              the store in a forked process beside the planner (--processes 1: one process)
  plan only   the simulator's planning alone (no store), to show where in-process time goes

    .venv/bin/python benchmarks/simulate.py
    .venv/bin/python benchmarks/simulate.py --http-trades 20000 --in-process-trades 100000
    .venv/bin/python benchmarks/simulate.py --only in-process      # the 50k trades/s target
    .venv/bin/python benchmarks/simulate.py --only in-process --grant-rate 0 --offer-rate 0

--grant-rate / --offer-rate (default: the simulator's, 0.1 / 0.2) set the honest players'
grants, consumptions and offers; 0 and 0 give plain trades only, to compare.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bazaar.cli.common import free_port
from bazaar.domain.catalog import load_catalog
from bazaar.simulate.driver import run_simulation, simulate_in_process
from bazaar.simulate.plan import SimulationPlan
from bazaar.simulate.planner import TradePlanner
from bazaar.simulate.stats import SimulationSummary
from bazaar.store.sqlite import SQLiteStore


def serve(db: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bazaar", "serve", "--store", f"sqlite:///{db}",
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("bazaar serve did not start")


def over_http(plan: SimulationPlan, workers: int, concurrency: int) -> SimulationSummary:
    with tempfile.TemporaryDirectory(prefix="bazaar-sim-") as tmp:
        proc, url = serve(Path(tmp) / "bench.db", workers)
        try:
            return run_simulation(url, plan, concurrency=concurrency)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)


def in_process(plan: SimulationPlan, batch: int, processes: int) -> SimulationSummary:
    with tempfile.TemporaryDirectory(prefix="bazaar-sim-") as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db", load_catalog())
        try:
            return simulate_in_process(store, plan, batch=batch, processes=processes)
        finally:
            store.close()


def plan_only(plan: SimulationPlan, processes: int) -> float:
    planner = TradePlanner(load_catalog(), plan)
    planner.snapshots = processes < 2  # as the in-process driver plans (see driver.py)
    began = time.perf_counter()
    count = sum(1 for _ in planner)
    return count / (time.perf_counter() - began)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--players", type=int, default=1000)
    ap.add_argument("--http-trades", type=int, default=20_000)
    ap.add_argument("--in-process-trades", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1, help="bazaar serve workers")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1000, help="in-process group-commit size")
    ap.add_argument("--exploiters", type=int, default=2)
    ap.add_argument("--processes", type=int, default=2, help="in-process: 2 = store forked")
    ap.add_argument("--grant-rate", type=float, default=SimulationPlan().grant_rate)
    ap.add_argument("--offer-rate", type=float, default=SimulationPlan().offer_rate)
    ap.add_argument("--only", choices=("http", "in-process", "plan"), action="append",
                    help="run only these figures (repeatable); default all three")  # fmt: skip
    args = ap.parse_args()
    only = set(args.only or ("http", "in-process", "plan"))

    http, local, planning = [], [], []
    for run in range(1, args.runs + 1):
        common = {"players": args.players, "seed": run, "exploiters": args.exploiters,
                  "grant_rate": args.grant_rate, "offer_rate": args.offer_rate}  # fmt: skip
        line = [f"run {run}:"]
        if "http" in only:
            h = over_http(SimulationPlan(trades=args.http_trades, **common), args.workers,
                          args.concurrency)  # fmt: skip
            http.append(h)
            line.append(
                f"http {h.trades_per_second:,.0f} trades/s (p50 {h.p50_ms:.1f} ms,"
                f" p99 {h.p99_ms:.1f} ms, 5xx {h.server_errors}, diverged {h.diverged},"
                f" players {h.players / h.create_seconds:,.0f}/s)"
            )
        if "in-process" in only:
            plan = SimulationPlan(trades=args.in_process_trades, **common)
            s = in_process(plan, args.batch, args.processes)
            local.append(s)
            line.append(
                f"in-process {s.trades_per_second:,.0f} trades/s (diverged {s.diverged},"
                f" failed {s.failed}, players {s.players / s.create_seconds:,.0f}/s,"
                f" grants {s.economy.get('grants', 0)}, consumptions"
                f" {s.economy.get('consumptions', 0)}, offers {s.economy.get('offers created', 0)})"
            )
        if "plan" in only:
            planning.append(
                plan_only(SimulationPlan(trades=args.in_process_trades, **common), args.processes)
            )
            line.append(f"plan only {planning[-1]:,.0f}/s")
        print(line[0], " | ".join(line[1:]), flush=True)

    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"\nmedian of {args.runs}: players={args.players} workers={args.workers}"
        f" c={args.concurrency} batch={args.batch} processes={args.processes}"
        f" exploiters={args.exploiters} grant-rate={args.grant_rate}"
        f" offer-rate={args.offer_rate}"
    )
    if http:
        print(
            f"  http        {med([h.trades_per_second for h in http]):>9,.0f} trades/s"
            f"  p50 {med([h.p50_ms for h in http]):.1f} ms"
            f"  p99 {med([h.p99_ms for h in http]):.1f} ms  ({args.http_trades:,} trades)"
        )
    if local:
        print(
            f"  in-process  {med([s.trades_per_second for s in local]):>9,.0f} trades/s"
            f"  ({args.in_process_trades:,} trades)"
        )
    if planning:
        print(f"  plan only   {med(planning):>9,.0f} trades/s")


if __name__ == "__main__":
    main()
