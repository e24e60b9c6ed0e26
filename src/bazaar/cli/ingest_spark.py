"""`bazaar ingest --engine spark`: the same landing, as a Spark Structured Streaming query.

Flags and the run for the Spark engine of `bazaar ingest` (cli/ingest.py registers the
command and hands over here); the query itself is bazaar.lake.spark_ingest.
"""

from __future__ import annotations

import argparse

from bazaar.cli.common import console, fail, out, progress_due, stop_on_signals
from bazaar.cli.ingest_progress import rows_written_table
from bazaar.cli.lake_flags import lake_root, parse_options
from bazaar.config import Settings


def add_spark_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Spark engine (--engine spark, needs bazaar[spark] and Java 17+)")
    g.add_argument(
        "--engine",
        choices=("python", "spark"),
        default="python",
        help="python: this process (default); spark: a Structured Streaming query (--kafka)",
    )
    g.add_argument(
        "--spark-master",
        metavar="URL",
        help="local[*] (default), local[N], spark://HOST:7077, yarn, k8s://...",
    )
    g.add_argument(
        "--kafka-source",
        choices=("python", "native"),
        default="python",
        help="python: confluent-kafka via Spark's Python data source (default); native: "
        "Spark's kafka source (needs the spark-sql-kafka package)",
    )
    g.add_argument(
        "--checkpoint",
        metavar="PATH_OR_URI",
        help="Spark checkpoint location (default LAKE/_checkpoints/QUERY_NAME)",
    )
    g.add_argument(
        "--query-name", default=None, help="streaming query name (default bazaar-ingest)"
    )
    g.add_argument(
        "--trigger-seconds",
        type=float,
        default=None,
        help="micro-batch interval (default: --flush-seconds with --follow, else 0)",
    )


def run_spark(args: argparse.Namespace) -> int:
    from bazaar.domain.errors import BazaarError
    from bazaar.lake.sources import DEFAULT_TOPIC
    from bazaar.lake.spark_ingest import (
        DEFAULT_QUERY_NAME,
        SparkIngestConfig,
        SparkIngestSummary,
        run_spark_ingest,
    )
    from bazaar.spark.session import spark_session

    if not args.kafka:
        fail("--engine spark reads Kafka: give --kafka HOST:PORT")
    settings = Settings.from_environ()
    trigger = args.trigger_seconds
    if trigger is None:
        trigger = args.flush_seconds if args.follow else 0.0
    config = SparkIngestConfig(
        bootstrap=args.kafka,
        lake=lake_root(args, settings),
        topic=args.topic or settings.topic or DEFAULT_TOPIC,
        kafka_source=args.kafka_source,
        kafka_options=parse_options(args.kafka_option, "--kafka-option"),
        storage_options=parse_options(args.storage_option, "--storage-option"),
        query_name=args.query_name or DEFAULT_QUERY_NAME,
        checkpoint=args.checkpoint,
        trigger_seconds=trigger,
        max_events_per_batch=args.flush_events,
    )
    try:
        spark_session(args.spark_master, app_name=config.query_name)
    except BazaarError as exc:
        fail(str(exc))

    # After the session: pyspark installs its own SIGINT handler when the context starts.
    stop = stop_on_signals()  # the batch in hand lands, then the query stops
    due = progress_due(args.quiet)

    def progress(summary: SparkIngestSummary) -> None:
        if due():
            console.print(
                f"[dim]spark ingest[/] {summary.events:,} events in {summary.batches} batches, "
                f"last {summary.batch_seconds[-1] * 1000:.0f} ms, trades {summary.rows['trades']:,}"
            )

    if not args.quiet:
        mode = "following" if args.follow else "draining"
        console.print(
            f"spark ingest: {mode} Kafka topic {config.topic!r} at {config.bootstrap} "
            f"({config.kafka_source} source) into [bold]{config.lake}[/]; "
            f"checkpoint {config.checkpoint_location()}"
        )
    try:
        summary = run_spark_ingest(config, follow=args.follow, stop=stop, on_batch=progress)
    except (BazaarError, ValueError) as exc:
        fail(str(exc), code=1)
    print_spark_summary(summary, config.lake)
    return 0


def print_spark_summary(summary: object, root: str) -> None:
    from bazaar.lake.spark_ingest import SparkIngestSummary

    assert isinstance(summary, SparkIngestSummary)
    out.print(rows_written_table(f"spark ingest into {root}", summary.rows))
    out.print(
        f"events read {summary.events:,} in {summary.seconds:.2f} s "
        f"({summary.events_per_second:,.0f}/s, Spark start-up included); "
        f"micro-batches {summary.batches} (+{summary.skipped_batches} already landed); "
        f"duplicates skipped {summary.duplicates:,}; dead letters {summary.dead_letters:,}"
    )
    out.print(f"query id: {summary.query_id}")
    if summary.positions:
        out.print(f"positions: {summary.positions}")
