"""Concurrent clients against a real `bazaar serve` with two worker processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import running_server


@pytest.fixture
def api(store_url: str) -> Iterator[str]:
    with running_server(store_url, workers=2) as url:
        yield url


async def _gather(n: int, make: object) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=n)) as client:
        return await asyncio.gather(*(make(client) for _ in range(n)))  # type: ignore[operator]


def test_64_concurrent_player_creations_get_64_distinct_ids(api: str) -> None:
    responses = asyncio.run(_gather(64, lambda c: c.post(f"{api}/players", json={})))
    assert [r.status_code for r in responses] == [201] * 64
    assert len({r.json()["player_id"] for r in responses}) == 64


def test_16_concurrent_retries_of_one_trade_execute_once(api: str) -> None:
    a = httpx.post(f"{api}/players", json={"player_class": "farmer"}).json()["player_id"]
    b = httpx.post(f"{api}/players", json={"player_class": "hunter"}).json()["player_id"]
    body = {"player_1": {"player_id": a, "gold": 7}, "player_2": {"player_id": b}}
    headers = {"Idempotency-Key": "retry-me"}
    responses = asyncio.run(
        _gather(16, lambda c: c.post(f"{api}/trades", json=body, headers=headers))
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1, "16 identical responses"
    assert httpx.get(f"{api}/players/{a}").json()["gold"] == 493, "executed once"
    assert httpx.get(f"{api}/players/{b}").json()["version"] == 2


def test_16_concurrent_creations_with_one_key_create_one_player(api: str) -> None:
    headers = {"Idempotency-Key": "new-player-1"}
    responses = asyncio.run(
        _gather(
            16, lambda c: c.post(f"{api}/players", json={"player_class": "tailor"}, headers=headers)
        )
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["player_id"] for r in responses}) == 1
