"""The HTTP API as a client sees it: status codes, reasons, and bodies."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bazaar.api.app import create_app
from bazaar.store.base import Store
from tests.support.ledger import outbox_events


@pytest.fixture
def client(store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(store), raise_server_exceptions=False) as c:
        yield c


def _player(client: TestClient, cls: str) -> int:
    response = client.post("/players", json={"player_class": cls})
    assert response.status_code == 201
    return int(response.json()["player_id"])


def _side(pid: int, items: list[tuple[int, int]] | None = None, gold: int = 0) -> dict[str, Any]:
    return {
        "player_id": pid,
        "items": [{"item_id": i, "quantity": q} for i, q in items or []],
        "gold": gold,
    }


def test_create_player_answers_with_the_full_player(client: TestClient) -> None:
    response = client.post("/players", json={"username": "Ann", "player_class": "farmer"})
    assert response.status_code == 201
    body = response.json()
    assert body["username"] == "Ann" and body["player_class"] == "farmer"
    assert body["gold"] == 500 and body["capacity"] == 999 and body["version"] == 1
    assert body["items"] == [
        {"item_id": 5, "name": "Food Package", "value": 6, "quantity": 500},
        {"item_id": 6, "name": "Milk", "value": 3, "quantity": 399},
    ]
    assert client.get(f"/players/{body['player_id']}").json() == body


@pytest.mark.parametrize("body", [{}, {"player_class": "random"}, None])
def test_random_class_and_generated_username(client: TestClient, body: object) -> None:
    response = client.post("/players", json=body) if body is not None else client.post("/players")
    assert response.status_code == 201
    player = response.json()
    assert player["username"] == f"{player['player_class']}-{player['player_id']}"


def test_accepted_trade(client: TestClient) -> None:
    a, b = _player(client, "farmer"), _player(client, "blacksmith")
    response = client.post(
        "/trades", json={"player_1": _side(a, [(5, 2)]), "player_2": _side(b, gold=15)}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "accepted" and body["player_1"]["gold"] == 515
    assert body["player_2"]["items"][-1] == {
        "item_id": 5,
        "name": "Food Package",
        "value": 6,
        "quantity": 2,
    }
    record = client.get(f"/trades/{body['trade_id']}").json()
    assert record["status"] == "accepted" and record["player_2"]["gold"] == 15


def test_defaults_for_items_and_gold(client: TestClient) -> None:
    a, b = _player(client, "farmer"), _player(client, "blacksmith")
    response = client.post(
        "/trades", json={"player_1": {"player_id": a, "gold": 1}, "player_2": {"player_id": b}}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda a, b: (_side(a, gold=1), _side(a)), "self_trade"),
        (lambda a, b: (_side(a), _side(b)), "empty_trade"),
        (lambda a, b: (_side(a, [(404, 1)]), _side(b)), "unknown_item"),
        (lambda a, b: (_side(a, [(1, 1)]), _side(b)), "insufficient_items"),
        (lambda a, b: (_side(a, gold=501), _side(b)), "insufficient_gold"),
        (lambda a, b: (_side(a), _side(b, [(1, 101)])), "capacity_exceeded"),
    ],
)
def test_each_broken_rule_is_a_recorded_409(
    client: TestClient, store: Store, make: Any, reason: str
) -> None:
    a, b = _player(client, "farmer"), _player(client, "blacksmith")
    one, two = make(a, b)
    response = client.post("/trades", json={"player_1": one, "player_2": two})
    assert response.status_code == 409
    body = response.json()
    assert body["status"] == "rejected" and body["reason"] == reason and body["detail"]
    assert client.get(f"/trades/{body['trade_id']}").json()["reason"] == reason
    assert outbox_events(store)[-1]["event_type"] == "trade_rejected"


def test_unknown_ids_are_404(client: TestClient, store: Store) -> None:
    a = _player(client, "farmer")
    head = store.outbox_head()
    response = client.post(
        "/trades", json={"player_1": _side(a, gold=1), "player_2": _side(987654)}
    )
    assert response.status_code == 404
    assert response.json()["reason"] == "unknown_player"
    assert client.get("/players/987654").json()["reason"] == "unknown_player"
    assert client.get("/trades/987654").status_code == 404
    assert client.get("/nowhere").status_code == 404
    assert store.outbox_head() == head


GOOD = {"player_1": {"player_id": 1, "gold": 1}, "player_2": {"player_id": 2}}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"{not json", "body"),
        (b"", "body"),
        (b"[1, 2]", "body"),
        (b'"text"', "body"),
        ({"player_1": {"player_id": 1}}, "player_2"),
        ({**GOOD, "extra": 1}, "extra"),
        ({**GOOD, "player_1": {"player_id": "1"}}, "player_1.player_id"),
        ({**GOOD, "player_1": {"player_id": 1.5}}, "player_1.player_id"),
        ({**GOOD, "player_1": {"player_id": True}}, "player_1.player_id"),
        ({**GOOD, "player_1": {"player_id": 0}}, "player_1.player_id"),
        ({**GOOD, "player_1": {"player_id": 2**64}}, "player_1.player_id"),
        ({**GOOD, "player_1": {"player_id": 1, "gold": -5}}, "player_1.gold"),
        ({**GOOD, "player_1": {"player_id": 1, "gold": None}}, "player_1.gold"),
        (
            {**GOOD, "player_1": {"player_id": 1, "items": [{"item_id": 5, "quantity": 0}]}},
            "player_1.items.0.quantity",
        ),
        (
            {**GOOD, "player_1": {"player_id": 1, "items": [{"item_id": 5, "quantity": -3}]}},
            "player_1.items.0.quantity",
        ),
        (
            {**GOOD, "player_1": {"player_id": 1, "items": [{"item_id": 5}]}},
            "player_1.items.0.quantity",
        ),
        ({**GOOD, "player_1": {"player_id": 1, "items": {"item_id": 5}}}, "player_1.items"),
        (
            {
                **GOOD,
                "player_1": {
                    "player_id": 1,
                    "items": [{"item_id": 5, "quantity": 1, "name": "Gold Bar"}],
                },
            },
            "player_1.items.0.name",
        ),
    ],
)
def test_malformed_trades_are_422_naming_the_field(
    client: TestClient, store: Store, payload: Any, field: str
) -> None:
    head = store.outbox_head()
    if isinstance(payload, bytes):
        response = client.post(
            "/trades", content=payload, headers={"content-type": "application/json"}
        )
    else:
        response = client.post("/trades", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field and body["reason"] in {"invalid_request", "malformed_json"}
    assert store.outbox_head() == head


@pytest.mark.parametrize(
    ("payload", "field", "reason"),
    [
        ({"player_class": "wizard"}, "player_class", "unknown_player_class"),
        ({"player_class": 3}, "player_class", "invalid_request"),
        ({"username": "x" * 40}, "username", "invalid_request"),
        ({"username": "evil\u0000name"}, "username", "invalid_request"),
        ({"username": "line\nbreak"}, "username", "invalid_request"),
        ({"username": ""}, "username", "invalid_request"),
        ({"gold": 10**9}, "gold", "invalid_request"),
    ],
)
def test_malformed_players_are_422(
    client: TestClient, payload: Any, field: str, reason: str
) -> None:
    response = client.post("/players", json=payload)
    assert response.status_code == 422
    assert response.json()["field"] == field and response.json()["reason"] == reason


@pytest.mark.parametrize(
    "path", ["/players/abc", "/players/0", "/players/-1", "/trades/1.5", f"/players/{2**70}"]
)
def test_bad_path_ids_answer_as_unknown_ids(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["reason"] in {"unknown_player", "unknown_trade"}


def test_oversized_body_is_413(client: TestClient) -> None:
    big = b'{"username": "' + b"a" * 70_000 + b'"}'
    response = client.post("/players", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and response.json()["reason"] == "body_too_large"


def test_headers_never_enter_events(client: TestClient, store: Store) -> None:
    a, b = _player(client, "farmer"), _player(client, "hunter")
    client.post(
        "/trades",
        json={"player_1": _side(a, gold=1), "player_2": _side(b)},
        headers={"Authorization": "Bearer SECRET-TOKEN", "Cookie": "session=SECRET"},
    )
    for entry in store.read_outbox(after=0):
        assert b"SECRET" not in entry.body


def test_idempotency_key_reuse_with_a_different_body_is_422(client: TestClient) -> None:
    a, b = _player(client, "farmer"), _player(client, "hunter")
    headers = {"Idempotency-Key": "abc-1"}
    first = client.post(
        "/trades", json={"player_1": _side(a, gold=1), "player_2": _side(b)}, headers=headers
    )
    same = client.post(
        "/trades", json={"player_1": _side(a, gold=1), "player_2": _side(b)}, headers=headers
    )
    other = client.post(
        "/trades", json={"player_1": _side(a, gold=2), "player_2": _side(b)}, headers=headers
    )
    assert first.json() == same.json() and first.status_code == same.status_code == 200
    assert other.status_code == 422 and other.json()["reason"] == "idempotency_key_reused"
    assert client.get(f"/players/{a}").json()["gold"] == 499


def test_catalog_health_and_openapi(client: TestClient) -> None:
    assert len(client.get("/catalog").json()["classes"]) == 10
    assert client.get("/health").json()["status"] == "ok"
    spec = client.get("/openapi.json").json()
    assert {"/players", "/trades", "/trades/{trade_id}"} <= set(spec["paths"])
    assert "TradeIn" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200
