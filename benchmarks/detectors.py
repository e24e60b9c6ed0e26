"""The exploit detectors against the simulator's truth, and their time on a big lake.

Accuracy: for every seed x size, the in-process simulator (real SQLite store -> real ingest
-> Delta lake) plays K groups of exploiters of each kind, group n playing the kind's variant
n (K=12 plays every variant, wash rings of 3, 4 and 5 included), and the same economy with
no exploiters at all; `find_exploits` on DuckDB is scored against the truth
(analytics/scoring.py): precision and recall per kind and overall, pooled over seeds, and
the honest players flagged in the runs without exploiters (the target is none).

Time: `ask exploits` (every detector together, as `bazaar ask exploits` runs them) on the
lake benchmarks/queries.py builds (10,000,000 trades by default), once to warm and then
--repeats timed runs; median, min and max.

    .venv/bin/python benchmarks/detectors.py                          # 5 seeds x 2 sizes
    .venv/bin/python benchmarks/detectors.py --seeds 1 --sizes 1000:50000 --no-time
    .venv/bin/python benchmarks/detectors.py --no-accuracy --lake /tmp/bazaar-bench-lake-10000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bazaar.analytics.asking import AskOptions
from bazaar.analytics.engines import open_engine
from bazaar.analytics.exploits import find_exploits
from bazaar.analytics.scoring import score_detections
from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from bazaar.lake.ingest import Ingest
from bazaar.lake.sources import OutboxSource
from bazaar.lake.writer import LakeWriter
from bazaar.simulate.driver import run_simulation
from bazaar.simulate.plan import SimulationPlan

KINDS = ("gold_funnel", "wash_trading", "lopsided_trader")


def _run(players: int, trades: int, seed: int, exploiters: int, work: Path) -> dict[str, Any]:
    catalog = load_catalog()
    root = work / f"{players}-{trades}-{seed}-{exploiters}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    store = open_store(f"sqlite:///{root / 'bazaar.db'}", catalog)
    began = time.perf_counter()
    plan = SimulationPlan(players=players, trades=trades, seed=seed, exploiters=exploiters)
    summary = run_simulation(store, plan)
    simulated = time.perf_counter() - began
    with LakeWriter(root / "lake") as writer:
        writer.open()
        Ingest(OutboxSource(store), writer, flush_seconds=0.0).run()
    store.close()
    engine = open_engine("duckdb", root / "lake", catalog=catalog)
    began = time.perf_counter()
    found = find_exploits(engine, AskOptions())
    detected = time.perf_counter() - began
    engine.close()
    truth = summary.truth or {"exploiters": []}
    check = score_detections(truth, found)
    shutil.rmtree(root, ignore_errors=True)
    return {
        "players": players, "trades": trades, "seed": seed, "exploiters": exploiters,
        "simulate_s": round(simulated, 1), "detect_s": round(detected, 2), "check": check,
    }  # fmt: skip


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "-"


def accuracy(sizes: list[tuple[int, int]], seeds: list[int], k: int, out: Path | None) -> None:
    runs = []
    with tempfile.TemporaryDirectory(prefix="bazaar-detectors-") as tmp:
        for players, trades in sizes:
            for seed in seeds:
                for exploiters in (k, 0):
                    run = _run(players, trades, seed, exploiters, Path(tmp))
                    o = run["check"]["overall"]
                    print(
                        f"  {players:>5} players {trades:>7} trades seed {seed} K={exploiters:<2}"
                        f" simulate {run['simulate_s']:>5.1f} s  detect {run['detect_s']:.2f} s"
                        f"  labelled {o['labelled']:>3} flagged {o['flagged']:>3}"
                        f" right {o['right']:>3}  honest flagged {run['check']['honest_flagged']}",
                        flush=True,
                    )
                    runs.append(run)
    if out is not None:
        out.write_text(json.dumps(runs, indent=1) + "\n", "utf-8")
    print("\n| size | kind | labelled | flagged | right | roles right | precision | recall |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for players, trades in sizes:
        mine = [r for r in runs if r["players"] == players and r["exploiters"] == k]
        for kind in (*KINDS, "overall"):
            got = [r["check"]["kinds"][kind] if kind != "overall" else r["check"]["overall"]
                   for r in mine]  # fmt: skip
            t = {
                key: sum(g[key] for g in got)
                for key in ("labelled", "flagged", "right", "roles_right")
            }
            print(
                f"| {players:,} / {trades:,} | {kind} | {t['labelled']} | {t['flagged']} |"
                f" {t['right']} | {t['roles_right']} | {_share(t['right'], t['flagged'])} |"
                f" {_share(t['right'], t['labelled'])} |"
            )
        clean = [r for r in runs if r["players"] == players and r["exploiters"] == 0]
        flagged = sum(len(r["check"]["honest_flagged"]) for r in clean)
        size = f"{players:,} / {trades:,}"
        print(f"| {size} | no exploiters ({len(clean)} runs) | 0 | {flagged} | | | | |")


def timing(lake: Path, repeats: int) -> None:
    engine = open_engine("duckdb", lake, catalog=load_catalog())
    find_exploits(engine, AskOptions())  # warm: file metadata, caches
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        find_exploits(engine, AskOptions())
        times.append(time.perf_counter() - began)
    engine.close()
    print(
        f"ask exploits on {lake} (DuckDB): median {statistics.median(times):.2f} s,"
        f" min {min(times):.2f} s, max {max(times):.2f} s over {repeats} runs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    parser.add_argument("--sizes", default="1000:50000,5000:200000", help="players:trades,...")
    parser.add_argument("--exploiters", type=int, default=12, help="K groups per kind (12)")
    parser.add_argument("--json", type=Path, help="write every run's scores here")
    parser.add_argument("--lake", type=Path, default=Path("/tmp/bazaar-bench-lake-10000000"),
                        help="lake to time (build it with benchmarks/queries.py)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--no-time", action="store_true")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in s.split(":")) for s in args.sizes.split(",")]
    if not args.no_accuracy:
        accuracy([(p, t) for p, t in sizes], list(range(1, args.seeds + 1)), args.exploiters,
                 args.json)  # fmt: skip
    if not args.no_time:
        if not args.lake.exists():
            raise SystemExit(f"no lake at {args.lake}: build it with benchmarks/queries.py")
        timing(args.lake, args.repeats)


if __name__ == "__main__":
    main()
