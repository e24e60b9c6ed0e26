"""The composition root: settings in, connected objects out. Nothing connects at import.

Every command that runs bazaar's parts together asks here: `bazaar serve` (server.py) for
its store, API, relay, lake follower and sweeper, its workers through
`app_from_environment`, and relay, ingest, outbox, simulate and the demo for their store.
api, stream, lake and telemetry are handed what they need and import neither this module
nor config.py (docs/ARCHITECTURE.md draws who depends on whom).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bazaar.config import Settings
from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.store.base import Store

if TYPE_CHECKING:
    from bazaar.api.app import HealthProvider, TradeFastLane
    from bazaar.api.auth import AuthPolicy
    from bazaar.api.limits import HttpLimits
    from bazaar.lake.archive import LakeArchive
    from bazaar.lake.follower import LakeFollower
    from bazaar.store.retention import RetentionPolicy


def open_store(url: str, catalog: Catalog) -> Store:
    """`sqlite:///PATH.db` (embedded default) or `redis://HOST:PORT/DB`."""
    if url.startswith("sqlite:///"):
        from bazaar.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url, catalog)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from bazaar.store.redis import RedisStore  # type: ignore[import-not-found,unused-ignore]

        store: Store = RedisStore.from_url(url, catalog)
        return store
    raise ValueError(
        f"unsupported store URL {url!r}: use sqlite:///PATH.db or redis://HOST:PORT/DB"
    )


def retention_policy(settings: Settings) -> RetentionPolicy:
    """Raises ValueError for a duration that does not parse or a trade retention shorter
    than the idempotency window."""
    from bazaar.store.retention import RetentionPolicy

    return RetentionPolicy.parse(
        settings.outbox_retention,
        settings.trade_retention,
        settings.consumer_timeout,
        settings.idempotency_window,
    )


def adjustment_reasons(settings: Settings) -> tuple[str, ...]:
    """The configured grant/consumption reasons (ValueError for a bad one)."""
    from bazaar.domain.grants import check_reasons

    return check_reasons([r.strip() for r in settings.adjustment_reasons.split(",") if r.strip()])


def check_trade_fee(settings: Settings) -> int:
    if not 0 <= settings.trade_fee_bps <= 10_000:
        raise ValueError(
            f"--trade-fee-bps must be 0 to 10000 (basis points), not {settings.trade_fee_bps}"
        )
    return settings.trade_fee_bps


def build_store(settings: Settings) -> Store:
    store = open_store(settings.store, load_catalog(settings.catalog))
    store.idempotency_ttl = int(retention_policy(settings).idempotency_window)
    store.trade_fee_bps = check_trade_fee(settings)
    return store


def pipeline_consumers(settings: Settings) -> list[str]:
    """The outbox readers this server's settings start, for /metrics' lag gauges."""
    from bazaar.lake.sources import lake_consumer
    from bazaar.stream.relay import RELAY_CONSUMER

    lakes = [lake_consumer(settings.lake)] if settings.lake else []
    return [RELAY_CONSUMER] * bool(settings.kafka) + lakes


def lake_archive(settings: Settings) -> LakeArchive | None:
    """The lake that answers for trades the store has dropped (none: 410 archived)."""
    if not settings.lake:
        return None
    from bazaar.lake.archive import LakeArchive

    return LakeArchive(settings.lake)


def build_app(
    settings: Settings, store: Store, auth: AuthPolicy, health: HealthProvider
) -> TradeFastLane:
    """The API over `store`, with everything the settings add to it: /metrics' consumers,
    the dashboard's lake and the lake archive."""
    from bazaar.api.app import create_app

    return create_app(
        store,
        health_provider=health,
        auth=auth,
        archive=lake_archive(settings),
        consumers=pipeline_consumers(settings),
        lake=settings.lake,
        reasons=adjustment_reasons(settings),
    )


def worker_health(store: Store, settings: Settings) -> HealthProvider:
    """GET /health's extra sections in a worker of `serve --workers N`: the relay and the
    sweeper run in the supervisor, so a worker reports what the store shows of them."""
    from bazaar.api.app import combined_health
    from bazaar.store.retention import outbox_health

    policy = retention_policy(settings)
    relay: HealthProvider | None = None
    if settings.kafka:
        from bazaar.stream.kafka import KafkaSettings
        from bazaar.stream.relay import worker_health_provider

        relay = worker_health_provider(store, KafkaSettings(settings.kafka, topic=settings.topic))
    return combined_health(lambda: outbox_health(store, policy), relay)


def http_limits(settings: Settings) -> HttpLimits:
    """The connection limits (ValueError for one out of range)."""
    from bazaar.api.limits import HttpLimits

    limits = HttpLimits(
        max_header_bytes=settings.max_header_bytes,
        request_timeout=settings.request_timeout,
        keep_alive_timeout=settings.keep_alive_timeout,
        max_connections=settings.max_connections,
    )
    limits.check()
    return limits


def app_from_environment() -> TradeFastLane:
    """uvicorn's factory for `bazaar serve --workers N`: each worker reads the settings
    the supervisor exported (config.export_to_environ) and opens its own store."""
    from bazaar.api.auth import auth_from_settings
    from bazaar.api.balance import use_table
    from bazaar.api.limits import configure as configure_limits

    settings = Settings.from_environ()
    configure_limits(http_limits(settings))  # read by each new connection
    use_table(settings.connection_table)  # workers spread their connections evenly
    store = build_store(settings)
    auth = auth_from_settings(settings, strict=False)  # checked by `bazaar serve` already
    return build_app(settings, store, auth, worker_health(store, settings))


def follow_store(settings: Settings) -> LakeFollower:
    """A lake follower on its own store handle; it stops (landing what it holds) at exit.
    Used by `bazaar serve --lake PATH`."""
    import atexit

    from bazaar.lake.follower import LakeFollower

    assert settings.lake is not None
    store = open_store(settings.store, load_catalog(settings.catalog))
    follower = LakeFollower(store, settings.lake).start()
    atexit.register(follower.stop)
    return follower
