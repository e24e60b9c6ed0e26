from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.store.base import Store
from tests.support.broker import kafka_broker  # noqa: F401 - the session's Kafka broker
from tests.support.stores import STORE_KINDS, open_url


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(params=sorted(STORE_KINDS))
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to a fresh, empty store of each kind (the conformance suite runs on all)."""
    return STORE_KINDS[request.param](request, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_url(store_url)
    yield s
    s.close()
