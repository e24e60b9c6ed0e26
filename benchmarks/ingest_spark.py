"""Spark ingest beside the Python ingest: Kafka -> lake events/s and micro-batch latency.

    .venv/bin/python benchmarks/ingest_spark.py [--events 200000] [--runs 3] [--master local[2]]

Builds the same 200,000-event topic as benchmarks/ingest.py (3 partitions, local Tansu),
then per run drains it into a fresh lake three ways: the Python ingest (`Ingest` +
`KafkaSource`, timed from the first message), and the Spark ingest (`run_spark_ingest`,
Python data source, warm session after one warm-up query, timed from the call to drained,
so a new query's start is included) with at most 50,000 and 5,000 events per micro-batch.
"In micro-batches" = events / the sum of the batches' durations (steady state, query start
excluded). Micro-batch latency = Spark's triggerExecution per batch (end offsets + plan +
read Kafka on the executors + the foreachBatch sink's Delta commits). Prints the medians
as a markdown snippet for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bazaar.lake.spark_ingest import SparkIngestConfig, run_spark_ingest
from bazaar.spark.session import spark_session, stop_spark
from ingest import build_outbox, kafka_rate, publish, tansu


def spark_run(bootstrap: str, topic: str, lake: Path, cap: int, master: str) -> dict[str, float]:
    config = SparkIngestConfig(
        bootstrap, str(lake), topic=topic, trigger_seconds=0.0, max_events_per_batch=cap
    )
    began = time.monotonic()
    summary = run_spark_ingest(config, master=master)
    took = time.monotonic() - began
    return {
        "rate": summary.events / took,
        "steady": summary.events / (sum(summary.trigger_ms) / 1000),
        "batches": float(summary.batches),
        "trigger_p50": statistics.median(summary.trigger_ms),
        "trigger_max": max(summary.trigger_ms),
        "sink_p50": statistics.median(summary.batch_seconds) * 1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-spark-ingest-"))
    rows = build_outbox(tmp / "bazaar.db", args.events)
    broker, bootstrap = tansu()
    try:
        topic = f"bench-{uuid.uuid4().hex[:8]}"
        publish(bootstrap, topic, rows)
        t0 = time.monotonic()
        spark_session(args.master, app_name="bench-spark-ingest")
        startup = time.monotonic() - t0
        # Warm-up: the first query in a session also starts Spark's Python workers.
        spark_run(bootstrap, topic, tmp / "warm-up", 50_000, args.master)
        python, big, small = [], [], []
        for run in range(args.runs):
            python.append(kafka_rate(bootstrap, topic, tmp / f"py-{run}"))
            big.append(spark_run(bootstrap, topic, tmp / f"big-{run}", 50_000, args.master))
            small.append(spark_run(bootstrap, topic, tmp / f"small-{run}", 5_000, args.master))
            print(f"run {run + 1}: python {python[-1]:,.0f}/s, spark {big[-1]}, {small[-1]}")
    finally:
        broker.kill()
        stop_spark()

    def med(results: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in results)

    load = os.getloadavg()
    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores "
          f"(shared), load average {load[0]:.1f}; Spark {args.master}, session start "
          f"{startup:.1f} s (not in the rates); {len(rows):,} events, 3 partitions; "
          f"median of {args.runs} runs\n")  # fmt: skip
    print("| ingest | drain events/s | in micro-batches | batches | batch p50 | batch max |")
    print("|---|---|---|---|---|---|")
    print(f"| Python (`bazaar ingest --kafka`) | {statistics.median(python):,.0f} | | | | |")
    for label, res in (("Spark, <= 50,000 per batch", big), ("Spark, <= 5,000 per batch", small)):
        print(
            f"| {label} | {med(res, 'rate'):,.0f} | {med(res, 'steady'):,.0f} | "
            f"{med(res, 'batches'):.0f} | {med(res, 'trigger_p50'):,.0f} ms | "
            f"{med(res, 'trigger_max'):,.0f} ms |"
        )


if __name__ == "__main__":
    main()
