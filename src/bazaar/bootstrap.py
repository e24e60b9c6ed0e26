"""Wiring: turn settings into connected objects. Nothing connects at import time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bazaar.config import Settings
from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.store.base import Store

if TYPE_CHECKING:
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


def build_store(settings: Settings) -> Store:
    store = open_store(settings.store, load_catalog(settings.catalog))
    store.idempotency_ttl = int(retention_policy(settings).idempotency_window)
    return store
