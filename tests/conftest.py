from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bazaar.domain.catalog import Catalog, load_catalog
from bazaar.store.base import Store
from tests.support.broker import kafka_broker  # noqa: F401 - the session's Kafka broker
from tests.support.clock_ahead import check_clock_ahead
from tests.support.stores import STORE_KINDS, open_url


def pytest_configure(config: pytest.Config) -> None:
    ahead = os.environ.get("BAZAAR_CLOCK_AHEAD")
    if ahead:
        problem = check_clock_ahead(ahead)
        if problem is not None:
            raise pytest.UsageError(problem)


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
