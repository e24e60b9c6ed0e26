"""`bazaar serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import argparse

from bazaar.cli.common import add_command, add_store_flags, fail, quiet_rust_panics
from bazaar.cli.relay import add_kafka_flags, kafka_settings
from bazaar.config import Settings
from bazaar.stream.kafka import KafkaSettings
from bazaar.telemetry.logs import add_log_flags


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "serve",
        summary="run the HTTP trade API",
        description="Serve the trade API (OpenAPI at /openapi.json, docs at /docs).",
        example="bazaar serve --store sqlite:///bazaar-data/bazaar.db --port 8000 --workers 2",
    )
    add_store_flags(p)
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--workers", type=int, help="worker processes (default 1)")
    add_log_flags(p)  # --log-format json|text, --log-level
    p.add_argument("--lake", metavar="PATH", help="also follow the outbox into this Delta Lake")
    add_kafka_flags(p)  # --kafka HOST:PORT also runs the outbox relay in this process
    p.add_argument(
        "--api-key-file",
        metavar="PATH",
        help="server API keys, one per line (sha256:<hex> or raw); turns auth on; re-read"
        " when it changes or on SIGHUP (also: BAZAAR_API_KEYS=key1,key2)",
    )
    p.add_argument(
        "--rate-limit",
        metavar="RATE",
        help="per player token, per worker: RATE/s[:BURST] or off (default 50/s:100)",
    )
    p.add_argument(
        "--server-rate-limit",
        metavar="RATE",
        help="per server key, per worker: RATE/s[:BURST] or off (default 1000/s:2000)",
    )
    p.add_argument(
        "--auth-failure-limit",
        metavar="RATE",
        help="failed authentications per client address, per worker, before 429:"
        " RATE/s[:BURST] or off (default 5/s:20)",
    )
    limits = p.add_argument_group(
        "connection limits", "slow, idle or oversized clients are dropped (docs/OPERATIONS.md)"
    )
    limits.add_argument(
        "--max-header-bytes",
        type=int,
        metavar="N",
        help="request line + headers larger than this answer 431 and close (default 16384)",
    )
    limits.add_argument(
        "--request-timeout",
        type=float,
        metavar="SECONDS",
        help="a request head, and then its body, must each arrive within this (default 10)",
    )
    limits.add_argument(
        "--keep-alive-timeout",
        type=float,
        metavar="SECONDS",
        help="close a connection idle this long, new or between requests (default 5)",
    )
    limits.add_argument(
        "--max-connections",
        type=int,
        metavar="N",
        help="open connections per worker; more are answered 503 and closed (default 1000)",
    )
    add_retention_flags(p)
    add_economy_flags(p)
    p.set_defaults(func=run)


def add_economy_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "economy",
        "faucets and sinks besides player creation: POST /players/{id}/grants and"
        " /consumptions (server key), and a trade fee; see docs/EVENTS.md",
    )
    group.add_argument(
        "--trade-fee-bps",
        type=int,
        metavar="N",
        help="charge a trade fee of N basis points (0-10000; 250 = 2.5 %%) of the gold each"
        " side gives, paid on top by that side and removed from the economy (default 0)",
    )
    group.add_argument(
        "--adjustment-reasons",
        metavar="LIST",
        help="comma-separated reasons a grant or consumption may give, e.g."
        " quest_reward,loot,craft,repair,fee,event_prize (default quest_reward,loot,craft,"
        "repair,fee)",
    )


def add_retention_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "bounded state",
        "what the store keeps (durations: 30s, 15m, 1h, 48h, 2d); the lake keeps everything."
        " One sweeper in this process releases the rest; see docs/OPERATIONS.md",
    )
    group.add_argument(
        "--outbox-retention",
        metavar="DURATION",
        help="keep outbox entries at least this long, and until every registered consumer"
        " (relay, lake ingest) has passed them (default 1h)",
    )
    group.add_argument(
        "--trade-retention",
        metavar="DURATION",
        help="keep trade records and resolved offers this long for GET /trades/{id} and"
        " history; older ones answer from --lake, else 410 archived (default 48h)",
    )
    group.add_argument(
        "--consumer-timeout",
        metavar="DURATION",
        help="report an outbox consumer silent this long as stale: health 'degraded' and a"
        " warning; it keeps holding entries until `bazaar outbox drop-consumer` (default 24h)",
    )
    group.add_argument(
        "--idempotency-window",
        metavar="DURATION",
        help="how long an Idempotency-Key's answer is kept; at most --trade-retention"
        " (default 48h)",
    )


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_environ().override(
        store=args.store,
        catalog=args.catalog,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_format=args.log_format,
        lake=args.lake,
        kafka=args.kafka,
        topic=args.topic,
        api_key_file=args.api_key_file,
        rate_limit=args.rate_limit,
        server_rate_limit=args.server_rate_limit,
        auth_failure_limit=args.auth_failure_limit,
        max_header_bytes=args.max_header_bytes,
        request_timeout=args.request_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_connections=args.max_connections,
        outbox_retention=args.outbox_retention,
        trade_retention=args.trade_retention,
        consumer_timeout=args.consumer_timeout,
        idempotency_window=args.idempotency_window,
        trade_fee_bps=args.trade_fee_bps,
        adjustment_reasons=args.adjustment_reasons,
    )
    serve(settings, kafka=kafka_settings(args, settings))
    return 0


def serve(
    settings: Settings, *, banner: str | None = None, kafka: KafkaSettings | None = None
) -> None:
    from bazaar.server import ServeRefused, prepare

    if settings.lake:  # the follower writes the lake in this process
        quiet_rust_panics()
    try:
        server = prepare(settings, kafka)
    except ServeRefused as exc:
        fail(str(exc))
    server.run(banner)
