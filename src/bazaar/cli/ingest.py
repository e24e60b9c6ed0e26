"""`bazaar ingest`: land every event in the Delta Lake exactly once."""

from __future__ import annotations

import argparse
from typing import Any

from bazaar.cli.common import (
    add_command,
    console,
    export_metrics,
    fail,
    out,
    quiet_rust_panics,
    stop_on_signals,
)
from bazaar.cli.ingest_progress import IngestProgress, rows_written_table
from bazaar.cli.ingest_spark import add_spark_flags, run_spark
from bazaar.cli.lake_flags import add_lake_flags, lake_root, parse_options
from bazaar.config import Settings
from bazaar.telemetry.exporter import add_metrics_flag
from bazaar.telemetry.logs import add_log_flags, configure_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "ingest",
        summary="land events from the outbox or Kafka in the Delta Lake, exactly once",
        description=(
            "Read events from the store's outbox (--store, the default) or a Kafka topic "
            "(--kafka) and append them to the lake's Delta tables, with the source position "
            "committed in the same Delta commit. Without --follow: drain what exists now, "
            "print a summary and exit. With --follow: keep running until Ctrl-C / SIGTERM."
        ),
        example="bazaar ingest --store sqlite:///bazaar-data/bazaar.db --lake bazaar-data/lake",
    )
    add_lake_flags(p)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--store", metavar="URL", help="read this store's outbox (default)")
    source.add_argument("--kafka", metavar="HOST:PORT", help="consume this Kafka cluster")
    p.add_argument("--catalog", metavar="PATH", help="catalog JSON file (default: built-in)")
    p.add_argument("--topic", help="Kafka topic (default bazaar.events)")
    p.add_argument("--group", default=None, help="Kafka consumer group (default bazaar-ingest)")
    p.add_argument(
        "--kafka-option",
        action="append",
        metavar="KEY=VALUE",
        help="librdkafka consumer setting (repeatable), e.g. session.timeout.ms=6000",
    )
    p.add_argument("--follow", action="store_true", help="keep running; flush as events come")
    p.add_argument(
        "--flush-seconds",
        type=float,
        default=1.0,
        help="commit when the oldest buffered event is this old (default 1.0)",
    )
    p.add_argument(
        "--flush-events",
        type=int,
        default=50_000,
        help="commit when this many events are buffered (default 50000)",
    )
    p.add_argument(
        "--source-id",
        default=None,
        help="name of the outbox source in the lake's positions (default 'outbox')",
    )
    p.add_argument(
        "--consumer",
        metavar="NAME",
        default=None,
        help="name this ingest registers under as an outbox consumer, which the server's"
        " retention respects (default lake:<lake root>; see `bazaar outbox status`)",
    )
    p.add_argument("--quiet", action="store_true", help="only the final summary")
    add_metrics_flag(p)
    add_log_flags(p)
    add_spark_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_format or "text", args.log_level or "warning")
    if args.engine == "spark":
        return run_spark(args)
    from bazaar.domain.errors import BazaarError
    from bazaar.lake.ingest import EventSource, Ingest
    from bazaar.lake.sources import (
        DEFAULT_GROUP,
        DEFAULT_TOPIC,
        OUTBOX_SOURCE,
        KafkaSource,
        OutboxSource,
    )
    from bazaar.lake.writer import LakeWriter

    quiet_rust_panics()
    settings = Settings.from_environ().override(store=args.store, catalog=args.catalog)
    root = lake_root(args, settings)
    storage = parse_options(args.storage_option, "--storage-option")
    source: EventSource
    try:
        if args.kafka:
            source = KafkaSource(
                args.kafka,
                topic=args.topic or settings.topic or DEFAULT_TOPIC,
                group=args.group or DEFAULT_GROUP,
                options=parse_options(args.kafka_option, "--kafka-option"),
            )
        else:
            from bazaar.bootstrap import build_store

            source = OutboxSource(
                build_store(settings),
                consumer=args.consumer,
                source_id=args.source_id or OUTBOX_SOURCE,
            )
        writer = LakeWriter(root, storage_options=storage).open()
    except (BazaarError, ValueError) as exc:
        fail(str(exc))

    stop = stop_on_signals()  # the batch in hand lands before ingest exits
    watch = IngestProgress(source, follow=args.follow, quiet=args.quiet)
    mode = "following" if args.follow else "draining"
    if not args.quiet:
        console.print(f"ingest: {mode} {source.describe()} into [bold]{root}[/]")
        if args.kafka:
            console.print(
                "ingest: joining the consumer group; events flow once partitions are assigned"
            )
    ingest = Ingest(
        source,
        writer,
        flush_events=args.flush_events,
        flush_seconds=args.flush_seconds,
        on_flush=watch.on_flush,
    )
    if args.metrics_port:
        _export_metrics(args.metrics_port, ingest)
    try:
        with watch:
            summary = ingest.run(follow=args.follow, stop=stop)
    except BazaarError as exc:
        fail(str(exc), code=1)
    finally:
        if isinstance(source, KafkaSource) and source.assignments and not args.quiet:
            console.print(f"ingest: partition assignments {source.assignments}")
        source.close()
        writer.close()
    print_summary(summary, root)
    return 0


def print_summary(summary: object, root: str) -> None:
    from bazaar.lake.ingest import IngestSummary

    assert isinstance(summary, IngestSummary)
    out.print(rows_written_table(f"ingest into {root}", summary.rows))
    lag = "unknown" if summary.lag is None else f"{summary.lag:,}"
    out.print(
        f"events read {summary.events:,} in {summary.seconds:.2f} s "
        f"({summary.events_per_second:,.0f}/s); duplicates skipped {summary.duplicates:,}; "
        f"dead letters {summary.dead_letters:,}; flushes {summary.flushes}; lag {lag}"
    )
    if summary.positions:
        out.print(f"positions: {summary.positions}")


def _export_metrics(address: str, ingest: Any) -> None:
    from bazaar.telemetry.exporter import by, one

    def read() -> dict[str, Any]:
        summary = ingest.summary
        return {
            "bazaar_ingest_events_total": ("Events read since start", "counter",
                                           one(summary.events)),
            "bazaar_ingest_duplicates_total": ("Redelivered events skipped", "counter",
                                               one(summary.duplicates)),
            "bazaar_ingest_dead_letters_total": ("Events that failed to decode", "counter",
                                                 one(summary.dead_letters)),
            "bazaar_ingest_flushes_total": ("Lake commits (batches)", "counter",
                                            one(summary.flushes)),
            "bazaar_ingest_rows_total": ("Rows written, per lake table", "counter",
                                         by("table", summary.rows)),
            "bazaar_ingest_position": ("Last source position landed, per source", "gauge",
                                       by("source", summary.positions)),
            "bazaar_ingest_lag_events": ("Events the source holds beyond what landed", "gauge",
                                         one(summary.lag)),
            "bazaar_ingest_last_flush_seconds": ("Duration of the last lake commit", "gauge",
                                                 one(summary.last_flush_seconds)),
        }  # fmt: skip

    export_metrics(address, read)
