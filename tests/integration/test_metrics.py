"""GET /metrics, request ids and /docs, as an operator meets them: figures that match what
the API answered (summed over `--workers 2`), ids on every answer, docs with no other host."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from bazaar.api.app import create_app
from bazaar.domain.catalog import Catalog
from bazaar.store.sqlite import SQLiteStore
from tests.support.server import running_server


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def total(found: dict[tuple[str, Any], float], name: str, **labels: str) -> float:
    return sum(
        v for (n, ls), v in found.items() if n == name and labels.items() <= dict(ls).items()
    )


def _trade(a: int, b: int, gold: int) -> dict[str, Any]:
    return {"player_1": {"player_id": a, "gold": gold}, "player_2": {"player_id": b}}


@pytest.fixture
def client(tmp_path: Path, catalog: Catalog) -> Iterator[TestClient]:
    store = SQLiteStore(tmp_path / "m.db", catalog)
    with TestClient(create_app(store, consumers=["lake"])) as c:
        yield c
    store.close()


def test_metrics_count_what_the_api_answered(client: TestClient) -> None:
    a = client.post("/players", json={"player_class": "banker"}).json()["player_id"]
    b = client.post("/players", json={"player_class": "farmer"}).json()["player_id"]
    answers = [client.post("/trades", json=_trade(a, b, g)) for g in (1, 2, 10**9, 3, 10**9)]
    client.get(f"/players/{a}")
    client.get("/players/99999")
    client.get("/no/such/route")
    found = samples(client.get("/metrics").text)
    accepted = sum(r.status_code == 200 for r in answers)
    assert (accepted, len(answers) - accepted) == (3, 2)
    assert total(found, "bazaar_trades_total", outcome="accepted") == accepted
    assert total(found, "bazaar_trades_total", reason="insufficient_gold") == 2
    assert total(found, "bazaar_http_requests_total", route="/trades", status="409") == 2
    assert total(found, "bazaar_http_requests_total", route="/players/{player_id}") == 2
    assert (
        total(found, "bazaar_http_requests_total", route="/players/{player_id}", status="404") == 1
    )
    assert total(found, "bazaar_http_requests_total", route="unmatched", status="404") == 1
    assert total(found, "bazaar_http_request_duration_seconds_count", route="/trades") == 5
    assert total(found, "bazaar_players_created_total", player_class="banker") == 1
    assert total(found, "bazaar_players_created_total") == 2
    assert total(found, "bazaar_outbox_head") == 2 + 5  # two players, five trades
    # Nothing follows this store into a lake: everything is lag, and it is seconds old.
    assert total(found, "bazaar_outbox_lag_events", consumer="lake") == 7
    assert total(found, "bazaar_lake_freshness_seconds") >= 0
    assert total(found, "bazaar_store_errors_total") == 0


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    mine = client.get("/catalog", headers={"X-Request-ID": "order-42.retry"})
    assert mine.headers["x-request-id"] == "order-42.retry"
    made = [client.post("/trades", json=_trade(1, 2, 1)).headers["x-request-id"] for _ in range(2)]
    assert made[0] != made[1] and all(made)
    unusable = client.get("/catalog", headers={"X-Request-ID": "x" * 500})
    assert unusable.headers["x-request-id"] != "x" * 500


def test_docs_work_offline(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert assets and all(a.startswith("/") for a in assets), assets
    assert "//" not in page.text.replace("http://www.w3.org", "")
    for asset in assets:
        if asset != "/openapi.json":
            got = client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset


def test_metrics_sum_over_two_workers(tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path}/w.db", workers=2) as api:
        statuses: list[int] = []
        ids: set[str] = set()
        players = [httpx.post(f"{api}/players", json={}).json()["player_id"] for _ in range(4)]
        for n in range(60):  # a new connection each: the two workers share them out
            gold = 1 if n % 3 else 10**9
            answer = httpx.post(
                f"{api}/trades", json=_trade(players[n % 4], players[(n + 1) % 4], gold)
            )
            statuses.append(answer.status_code)
            ids.add(answer.headers["x-request-id"].rsplit("-", 1)[0])
        assert len(ids) == 2, f"expected answers from both workers, got prefixes {ids}"
        deadline = time.monotonic() + 10
        while True:  # each worker flushes its figures every half second
            found = samples(httpx.get(f"{api}/metrics").text)
            if total(found, "bazaar_trades_total") == len(statuses) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert total(found, "bazaar_trades_total", outcome="accepted") == statuses.count(200)
    assert total(found, "bazaar_trades_total", outcome="rejected") == statuses.count(409)
    assert total(found, "bazaar_http_requests_total", route="/trades") == len(statuses)
    assert total(found, "bazaar_players_created_total") == 4
    assert total(found, "bazaar_outbox_head") == 4 + len(statuses)
