"""`bazaar relay`: move the store's outbox to a Kafka topic (also used by `serve --kafka`)."""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from bazaar.cli.common import (
    add_command,
    add_store_flags,
    console,
    export_metrics,
    fail,
    stop_on_signals,
)
from bazaar.config import Settings
from bazaar.stream.kafka import DEFAULT_PARTITIONS, KafkaSettings
from bazaar.telemetry.exporter import add_metrics_flag
from bazaar.telemetry.logs import add_log_flags, configure_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "relay",
        summary="publish the store's events to Kafka (at-least-once, ordered per player)",
        description=(
            "Read the store's outbox in order and produce every event to a Kafka topic"
            " (idempotent producer, acks=all). The position advances only after the broker"
            " confirmed delivery, so a restart resumes without losing an event. Creates the"
            " topic if missing. Ctrl-C stops after flushing what is in flight."
        ),
        example="bazaar relay --store sqlite:///bazaar-data/bazaar.db --kafka 127.0.0.1:9092",
    )
    add_store_flags(p)
    add_kafka_flags(p)
    p.add_argument(
        "--drain",
        action="store_true",
        help="exit once everything in the outbox at start has been delivered",
    )
    p.add_argument(
        "--progress-every",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often to print position, lag and rate (default 2)",
    )
    add_metrics_flag(p)
    add_log_flags(p)
    p.set_defaults(func=run)


def add_kafka_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kafka", metavar="HOST:PORT", help="Kafka bootstrap servers")
    parser.add_argument("--topic", help="topic for events (default bazaar.events)")
    parser.add_argument(
        "--partitions",
        type=int,
        default=DEFAULT_PARTITIONS,
        help=f"partitions when creating the topic (default {DEFAULT_PARTITIONS})",
    )
    parser.add_argument(
        "--kafka-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka property passed through, repeatable"
        " (e.g. security.protocol=SASL_SSL, sasl.mechanism=PLAIN, ssl.ca.location=...)",
    )


def kafka_settings(args: argparse.Namespace, settings: Settings) -> KafkaSettings | None:
    """The Kafka side of a command's flags, validated; None when no broker was named."""
    from bazaar.stream.kafka import check_client_config, parse_kafka_config

    if not settings.kafka:
        return None
    if args.partitions < 1:
        fail("--partitions must be at least 1")
    try:
        kafka = KafkaSettings(
            bootstrap=settings.kafka,
            topic=settings.topic,
            partitions=args.partitions,
            extra=parse_kafka_config(args.kafka_config),
        )
        check_client_config(kafka)
    except ValueError as exc:
        fail(str(exc))
    return kafka


def run(args: argparse.Namespace) -> int:
    from bazaar.bootstrap import build_store
    from bazaar.domain.errors import BazaarError
    from bazaar.stream.relay import OutboxRelay

    settings = Settings.from_environ().override(
        store=args.store, catalog=args.catalog, kafka=args.kafka, topic=args.topic
    )
    kafka = kafka_settings(args, settings)
    if kafka is None:
        fail("--kafka HOST:PORT is required (or BAZAAR_KAFKA)")
    try:
        store = build_store(settings)
        until = store.outbox_head() if args.drain else None
    except (BazaarError, ValueError) as exc:
        fail(str(exc))
    relay = OutboxRelay(store, kafka)
    configure_logging(args.log_format or "text", args.log_level or "warning")
    if args.metrics_port:
        _export_metrics(args.metrics_port, relay)
    # Ctrl-C and SIGTERM both stop cleanly: the relay flushes and records its position.
    stop = stop_on_signals("stopping: flushing in-flight events ...")
    crashed: list[BaseException] = []

    def relay_until_stopped() -> None:
        try:
            relay.run(stop, until=until)
        except BaseException as exc:  # reported below, and the exit code says so
            crashed.append(exc)

    worker = threading.Thread(target=relay_until_stopped, name="bazaar-relay")
    console.print(
        f"relaying {settings.store} -> kafka {kafka.bootstrap} topic [bold]{kafka.topic}[/]"
        + (f" (until seq {until})" if until is not None else "   Ctrl-C stops")
    )
    worker.start()
    started = last_time = time.monotonic()
    last_delivered = 0
    last_line = ""
    quiet = 0
    try:
        while worker.is_alive():
            worker.join(timeout=args.progress_every)
            now = time.monotonic()
            health = relay.health()
            rate = (health["delivered"] - last_delivered) / max(now - last_time, 1e-9)
            last_delivered, last_time = health["delivered"], now
            line = (
                f"position {health['position']:,}  lag {health['lag']:,}"
                f"  broker {health['broker']}"
                + (f"  last error: {health['last_error']}" if health["last_error"] else "")
            )
            quiet += 1
            if line != last_line or quiet >= 30:  # idle: a heartbeat, not a flood
                console.print(f"{line}  {rate:,.0f} events/s")
                last_line, quiet = line, 0
    finally:
        final = relay.status()
        elapsed = time.monotonic() - started
        console.print(
            f"relay stopped at position {final.position:,};"
            f" {final.delivered:,} events delivered in {elapsed:.1f}s"
        )
        store.close()
    if crashed:
        fail(f"relay failed: {crashed[0]!r}", code=1)
    return 0


def _export_metrics(address: str, relay: Any) -> None:
    from bazaar.telemetry.exporter import by, one

    def read() -> dict[str, Any]:
        health = relay.health()
        lag = health.get("lag")
        return {
            "bazaar_relay_position": ("Last outbox seq the broker confirmed", "gauge",
                                      one(health["position"])),
            "bazaar_relay_lag_events": ("Outbox entries not yet delivered", "gauge",
                                        one(lag if isinstance(lag, int) else None)),
            "bazaar_relay_delivered_total": ("Events delivered since start", "counter",
                                             one(health["delivered"])),
            "bazaar_relay_retries_total": ("Delivery retries since start", "counter",
                                           one(health.get("retries", 0))),
            "bazaar_relay_broker_up": ("1 while the broker answers", "gauge",
                                       by("broker", {str(health["broker"]): 1})),
        }  # fmt: skip

    export_metrics(address, read)
