"""Credentials and scopes over HTTP on every store: who may write what, 401/403/429."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from bazaar.api.app import create_app
from bazaar.api.auth import AuthPolicy, ServerKeys, auth_from_settings, hash_secret, new_api_key
from bazaar.api.ratelimit import RateLimit
from bazaar.config import Settings
from bazaar.store.base import Store
from tests.support.ledger import outbox_events

SERVER_KEY = "bzk_test-server-key"
FOOD = 5


def _client(store: Store, policy: AuthPolicy) -> TestClient:
    return TestClient(create_app(store, auth=policy), raise_server_exceptions=False)


@pytest.fixture
def api(store: Store) -> Iterator[TestClient]:
    with _client(store, AuthPolicy(ServerKeys([SERVER_KEY]))) as client:
        yield client


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


SERVER = _bearer(SERVER_KEY)


def _player(api: TestClient) -> tuple[int, dict[str, str]]:
    response = api.post("/players", json={"player_class": "farmer"}, headers=SERVER)
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("bzp_")
    return int(body["player_id"]), _bearer(body["token"])


def _offer(api: TestClient, creator: dict[str, str], to: int, **extra: Any) -> int:
    body = {"to_player_id": to, "gives": {"items": [{"item_id": FOOD, "quantity": 2}]}, **extra}
    response = api.post("/offers", json=body, headers=creator)
    assert response.status_code == 201, response.json()
    return int(response.json()["offer_id"])


def _trade(a: int, b: int) -> dict[str, Any]:
    return {
        "player_1": {"player_id": a, "items": [{"item_id": FOOD, "quantity": 1}]},
        "player_2": {"player_id": b},
    }


def test_writes_and_private_reads_need_a_credential(api: TestClient, store: Store) -> None:
    a, _ = _player(api)
    for path, body in [("/players", {}), ("/trades", _trade(a, a)), ("/offers", {})]:
        missing = api.post(path, json=body)
        assert missing.status_code == 401 and missing.json()["reason"] == "unauthenticated"
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="bazaar"'
        wrong = api.post(path, json=body, headers=_bearer("bzp_not-a-token"))
        assert wrong.status_code == 401
        assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
        basic = api.post(path, json=body, headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert basic.status_code == 401
    assert api.post("/offers/1/accept").status_code == 401
    for path in (f"/players/{a}", f"/offers?player_id={a}", f"/players/{a}/history"):
        assert api.get(path).status_code == 401
        assert api.get(path, headers=SERVER).status_code == 200
    for public in ("/catalog", "/health", "/openapi.json", "/docs"):
        assert api.get(public).status_code == 200
    events = [e["event_type"] for e in outbox_events(store)]
    assert events == ["player_created"], "refused writes left no trace"


def test_a_player_token_acts_only_for_its_player(api: TestClient, store: Store) -> None:
    a, as_a = _player(api)
    b, as_b = _player(api)
    c, as_c = _player(api)

    forbidden = [
        api.post("/players", json={}, headers=as_a),
        api.post("/trades", json=_trade(a, b), headers=as_a),  # even its own items
        api.post("/trades", json=_trade(b, a), headers=as_a),  # another player's items
        api.post(
            "/offers",
            json={"to_player_id": c, "from_player_id": b, "gives": {"gold": 1}},
            headers=as_a,
        ),  # an offer of b's goods
        api.post(f"/players/{a}/tokens", headers=as_a),
    ]
    assert [r.status_code for r in forbidden] == [403] * len(forbidden)
    assert {r.json()["reason"] for r in forbidden} == {"forbidden"}

    offer = _offer(api, as_a, b)
    assert api.post(f"/offers/{offer}/accept", headers=as_c).status_code == 403
    assert api.post(f"/offers/{offer}/accept", headers=as_a).status_code == 403, "not to self"
    assert api.post(f"/offers/{offer}/decline", headers=as_c).status_code == 403
    assert api.post(f"/offers/{offer}/cancel", headers=as_b).status_code == 403
    assert api.post(f"/offers/{offer}/cancel", headers=as_c).status_code == 403
    assert api.get(f"/offers/{offer}", headers=SERVER).json()["status"] == "open"
    assert store.get_player(a).version == store.get_player(b).version == 1
    # Reads are private: its own player, history and offers (made or received) only.
    for own in (f"/players/{a}", f"/players/{a}/history", f"/offers?player_id={a}"):
        assert api.get(own, headers=as_a).status_code == 200
    assert api.get(f"/offers/{offer}", headers=as_a).status_code == 200  # made it
    assert api.get(f"/offers/{offer}", headers=as_b).status_code == 200  # received it
    for other in (f"/players/{b}", f"/players/{b}/history", f"/offers?player_id={b}"):
        refused = api.get(other, headers=as_a)
        assert refused.status_code == 403 and refused.json()["reason"] == "forbidden"
    assert api.get(f"/offers/{offer}", headers=as_c).status_code == 403

    accepted = api.post(f"/offers/{offer}/accept", headers=as_b)
    assert accepted.status_code == 200 and accepted.json()["offer"]["status"] == "accepted"
    other = _offer(api, as_a, c)
    assert api.post(f"/offers/{other}/cancel", headers=as_a).json()["offer"]["status"] == (
        "cancelled"
    )
    declined = _offer(api, as_b, c)
    assert api.post(f"/offers/{declined}/decline", headers=as_c).status_code == 200


def test_a_server_key_may_act_for_anyone(api: TestClient, store: Store) -> None:
    a, _ = _player(api)
    b, _ = _player(api)
    assert api.post("/trades", json=_trade(a, b), headers=SERVER).status_code == 200
    missing_creator = api.post("/offers", json={"to_player_id": b}, headers=SERVER)
    assert missing_creator.status_code == 422
    assert missing_creator.json()["field"] == "from_player_id"
    first = _offer(api, SERVER, b, from_player_id=a)
    assert api.post(f"/offers/{first}/accept", headers=SERVER).status_code == 200
    second = _offer(api, SERVER, b, from_player_id=a)
    assert api.post(f"/offers/{second}/cancel", headers=SERVER).status_code == 200
    third = _offer(api, SERVER, a, from_player_id=b)
    assert api.post(f"/offers/{third}/decline", headers=SERVER).status_code == 200
    issued = api.post(f"/players/{a}/tokens", headers=SERVER)
    assert issued.status_code == 201
    fresh = _bearer(issued.json()["token"])
    made = api.post("/offers", json={"to_player_id": b, "gives": {"gold": 1}}, headers=fresh)
    assert made.status_code == 201 and made.json()["from_player_id"] == a
    assert api.post("/players/999/tokens", headers=SERVER).status_code == 404
    assert store.player_for_token(hash_secret(issued.json()["token"])) == a
    assert store.player_for_token(issued.json()["token"]) is None, "only the hash is stored"


def test_offer_errors_answer_with_reasons(api: TestClient) -> None:
    a, as_a = _player(api)
    b, as_b = _player(api)
    cases = [
        ({"to_player_id": a, "gives": {"gold": 1}}, 422, "self_trade"),
        ({"to_player_id": b}, 422, "empty_trade"),
        ({"to_player_id": b, "gives": {"items": [{"item_id": 999, "quantity": 1}]}}, 422,
         "unknown_item"),
        ({"to_player_id": b, "gives": {"gold": 1}, "expires_in": 0}, 422, "invalid_request"),
        ({"to_player_id": 999, "gives": {"gold": 1}}, 404, "unknown_player"),
        ({"to_player_id": b, "gives": {"gold": "1"}}, 422, "invalid_request"),
    ]  # fmt: skip
    for body, status, reason in cases:
        response = api.post("/offers", json=body, headers=as_a)
        assert (response.status_code, response.json()["reason"]) == (status, reason), body
    assert api.post("/offers/77/accept", headers=as_b).status_code == 404
    assert api.get("/offers/77", headers=SERVER).status_code == 404
    assert api.get("/offers?player_id=x", headers=SERVER).status_code == 422
    assert api.get(f"/offers?player_id={a}&status=lost", headers=SERVER).status_code == 422
    assert api.get(f"/players/{a}/history?cursor=nope", headers=SERVER).status_code == 422
    assert api.get(f"/players/{a}/history?limit=0", headers=SERVER).status_code == 422
    offer = _offer(api, as_a, b)
    assert api.post(f"/offers/{offer}/decline", headers=as_b).status_code == 200
    again = api.post(f"/offers/{offer}/accept", headers=as_b)
    assert (again.status_code, again.json()["reason"]) == (409, "offer_not_open")


def test_an_open_server_acts_as_server_and_issues_no_tokens(store: Store) -> None:
    with _client(store, AuthPolicy()) as open_api:
        created = open_api.post("/players", json={})
        assert created.status_code == 201 and "token" not in created.json()
        pid = created.json()["player_id"]
        refused = open_api.post(f"/players/{pid}/tokens")
        assert (refused.status_code, refused.json()["reason"]) == (422, "auth_disabled")
        other = open_api.post("/players", json={}).json()["player_id"]
        body = {"from_player_id": pid, "to_player_id": other, "gives": {"gold": 1}}
        assert open_api.post("/offers", json=body).status_code == 201


def test_rate_limit_answers_429_with_retry_after_and_recovers(store: Store) -> None:
    policy = AuthPolicy(ServerKeys([SERVER_KEY]), player_limit=RateLimit(2.0, 3), server_limit=None)
    with _client(store, policy) as api:
        _, as_a = _player(api)
        b, _ = _player(api)
        body = {"to_player_id": b, "gives": {"gold": 1}}
        codes = [api.post("/offers", json=body, headers=as_a).status_code for _ in range(4)]
        assert codes == [201, 201, 201, 429]
        limited = api.post("/offers", json=body, headers=as_a)
        assert limited.json()["reason"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert api.post("/players", json={}, headers=SERVER).status_code == 201, "per credential"
        time.sleep(int(limited.headers["Retry-After"]))
        assert api.post("/offers", json=body, headers=as_a).status_code == 201


def test_keys_rotate_by_editing_the_key_file(store: Store, tmp_path: Path) -> None:
    old_key, old_line = new_api_key()
    new_key, new_line = new_api_key()
    key_file = tmp_path / "keys"
    key_file.write_text(f"# game servers\n{old_line}\n")
    assert old_key not in key_file.read_text(), "the file holds hashes only"
    settings = Settings(api_key_file=str(key_file))
    with _client(store, auth_from_settings(settings)) as api:
        assert api.post("/players", json={}, headers=_bearer(old_key)).status_code == 201
        assert api.post("/players", json={}, headers=_bearer(new_key)).status_code == 401
        key_file.write_text(f"{new_line}\n")
        os.utime(key_file, (time.time() + 5, time.time() + 5))  # an mtime the check sees
        time.sleep(1.1)  # the file is checked at most once a second
        assert api.post("/players", json={}, headers=_bearer(new_key)).status_code == 201
        assert api.post("/players", json={}, headers=_bearer(old_key)).status_code == 401


def test_keys_from_the_environment_and_malformed_settings() -> None:
    settings = Settings.from_environ({"BAZAAR_API_KEYS": "k1, sha256:" + "ab" * 32})
    policy = auth_from_settings(settings)
    assert policy.enabled and policy.keys is not None
    assert policy.keys.knows(hash_secret("k1")) and policy.keys.knows("ab" * 32)
    assert not auth_from_settings(Settings()).enabled
    with pytest.raises(ValueError):
        auth_from_settings(Settings(api_keys="sha256:short"))
    with pytest.raises(ValueError):
        auth_from_settings(Settings(rate_limit="lots"))
