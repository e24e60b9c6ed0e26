"""Store factories for the conformance suite: every kind listed here runs every store test.

A factory gets pytest's request (for session-scoped servers) and a fresh tmp dir, and
returns (store URL, opener). Each test gets an empty store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from bazaar.store.base import Store
from tests.support.redis_server import redis_url

StoreFactory = Callable[[pytest.FixtureRequest, Path], str]


def sqlite_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    return f"sqlite:///{tmp / 'bazaar.db'}"


STORE_KINDS: dict[str, StoreFactory] = {"sqlite": sqlite_url, "redis": redis_url}


def open_url(url: str) -> Store:
    return open_store(url, load_catalog())
