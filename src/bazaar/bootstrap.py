"""Wiring: turn settings into connected objects. Nothing connects at import time."""

from __future__ import annotations

from bazaar.config import Settings
from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.store.base import Store


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


def build_store(settings: Settings) -> Store:
    return open_store(settings.store, load_catalog(settings.catalog))
