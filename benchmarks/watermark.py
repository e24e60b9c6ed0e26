"""The cost of reading the lake at its watermark (lake/watermark.py), per engine open.

Builds a lake the real way (SQLite store -> `bazaar ingest`) with small batches, so every
table has many Delta versions, then times `open_snapshot` when the tables agree and when
`trades` is 1, 10 or 100 batches ahead of the others (the walk back and bisection through
older versions). Median of `--repeats` runs, with min and max.

    .venv/bin/python benchmarks/watermark.py                   # 20,000 trades, 100 per batch
    flock /tmp/bazaar-bench.lock .venv/bin/python benchmarks/watermark.py --repeats 9
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.test_lake_ingest import Trader, commit_only

from bazaar.analytics.engines import LAKE_TABLES
from bazaar.cli.main import main
from bazaar.domain.catalog import load_catalog
from bazaar.lake.watermark import open_snapshot
from bazaar.lake.writer import LakeWriter
from bazaar.store.sqlite import SQLiteStore


def timed(root: str, repeats: int) -> tuple[float, float, float, str]:
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        snapshot = open_snapshot(root, LAKE_TABLES)
        runs.append((time.perf_counter() - began) * 1000)
    return statistics.median(runs), min(runs), max(runs), snapshot.describe()


def push_trades_ahead(root: Path, store: SQLiteStore, batches: int, size: int) -> None:
    """Commit `batches` more batches to `trades` only, as if ingest stopped there."""
    with LakeWriter(root) as writer:
        after = writer.table_versions("outbox")["trades"] or 0
        for _ in range(batches):
            entries = store.read_outbox(after, size)
            if not entries:
                return
            commit_only(writer, ("trades",), entries)
            after = entries[-1].seq


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100, help="events per ingest batch")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bazaar-watermark-"))
    try:
        store = SQLiteStore(work / "bazaar.db", load_catalog())
        trader = Trader(store, players=200)
        trader.trade(args.trades)
        lake = work / "lake"
        began = time.perf_counter()
        main(["ingest", "--store", f"sqlite:///{store.path}", "--lake", str(lake), "--quiet",
              "--flush-events", str(args.batch), "--flush-seconds", "60"])  # fmt: skip
        print(f"lake: {store.outbox_head():,} events in {args.batch}-event batches, "
              f"{time.perf_counter() - began:.1f} s to ingest")  # fmt: skip
        median, low, high, said = timed(str(lake), args.repeats)
        print(f"tables agree: {median:.1f} ms (min {low:.1f}, max {high:.1f}); {said}")
        trader.trade(args.batch * 150)  # what `trades` alone will take
        done = 0
        for ahead in (1, 10, 100):
            push_trades_ahead(lake, store, ahead - done, args.batch)
            done = ahead
            median, low, high, said = timed(str(lake), args.repeats)
            print(f"trades {ahead} batches ahead: {median:.1f} ms (min {low:.1f}, "
                  f"max {high:.1f}); {said}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    run()
