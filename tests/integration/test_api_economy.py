"""The economy over HTTP, against `bazaar serve --workers 2` on every store: escrow shown
on the player, counter-offers, offers expiring on time with nobody touching them, grants
and consumptions (server key only, idempotent, refused by rule), the trade fee."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.offers import FOOD, MILK
from tests.support.server import running_server

KEY = "server-key-for-economy"


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    key_file = tmp_path / "keys"
    key_file.write_text(KEY + "\n")
    extra = ["--api-key-file", str(key_file), "--trade-fee-bps", "100"]
    extra += ["--adjustment-reasons", "quest_reward,repair,event_prize"]
    with running_server(store_url, workers=2, extra=extra) as url:
        yield url, {"Authorization": f"Bearer {KEY}"}


def _farmer(url: str, server: dict[str, str]) -> tuple[int, dict[str, str]]:
    made = httpx.post(f"{url}/players", json={"player_class": "farmer"}, headers=server).json()
    return made["player_id"], {"Authorization": f"Bearer {made['token']}"}


def _events(url: str, server: dict[str, str], player: int) -> list[dict[str, Any]]:
    return httpx.get(f"{url}/players/{player}/history", headers=server).json()["entries"]


def test_offers_hold_goods_expire_on_time_and_counters_link(
    served: tuple[str, dict[str, str]],
) -> None:
    url, server = served
    a, as_a = _farmer(url, server)
    b, as_b = _farmer(url, server)
    gives = {"items": [{"item_id": FOOD, "quantity": 300}], "gold": 100}
    short = httpx.post(
        f"{url}/offers", json={"to_player_id": b, "gives": gives, "expires_in": 1}, headers=as_a
    )
    assert short.status_code == 201
    held = httpx.get(f"{url}/players/{a}", headers=as_a).json()
    assert held["held"] == {"gold": 100, "items": [{"item_id": FOOD, "quantity": 300}]}
    assert held["gold"] == 500, "held goods stay in the totals"
    again = httpx.post(
        f"{url}/offers",
        json={"to_player_id": b, "gives": {"items": [{"item_id": FOOD, "quantity": 201}]}},
        headers=as_a,
    )
    assert again.status_code == 409 and again.json()["reason"] == "insufficient_items"
    # nobody touches the short offer: the server's one sweeper expires it on time
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        state = httpx.get(f"{url}/players/{a}", headers=as_a).json()
        if state["held"]["items"] == []:
            break
        time.sleep(0.1)
    assert state["held"] == {"gold": 0, "items": []}, "released by the expiry sweeper"
    offer = httpx.get(f"{url}/offers/{short.json()['offer_id']}", headers=as_a).json()
    assert offer["status"] == "expired" and offer["resolved_at"] is not None
    lag = time.time() - _seconds(offer["expires_at"])
    assert lag < 2.0, "recorded within about a second of the deadline"

    first = httpx.post(
        f"{url}/offers", json={"to_player_id": b, "gives": {"gold": 50}}, headers=as_a
    ).json()
    counter_body = {"gives": {"items": [{"item_id": MILK, "quantity": 2}]}, "wants": {"gold": 60}}
    stranger = httpx.post(
        f"{url}/offers/{first['offer_id']}/counter", json=counter_body, headers=as_a
    )
    assert stranger.status_code == 403
    countered = httpx.post(
        f"{url}/offers/{first['offer_id']}/counter", json=counter_body, headers=as_b
    )
    assert countered.status_code == 201, countered.text
    body = countered.json()
    assert body["countered"]["status"] == "countered"
    assert body["countered"]["countered_by"] == body["offer"]["offer_id"]
    assert body["offer"]["counter_of"] == first["offer_id"]
    assert (body["offer"]["from_player_id"], body["offer"]["to_player_id"]) == (b, a)
    assert httpx.get(f"{url}/players/{a}", headers=as_a).json()["held"]["gold"] == 0
    assert httpx.get(f"{url}/players/{b}", headers=as_b).json()["held"]["items"] == [
        {"item_id": MILK, "quantity": 2}
    ]
    accepted = httpx.post(f"{url}/offers/{body['offer']['offer_id']}/accept", headers=as_a)
    assert accepted.status_code == 200 and accepted.json()["offer"]["status"] == "accepted"
    # the fee (1 %) on a's 60 gold is 0 (rounded down); on 500 it is 5
    trade = httpx.post(
        f"{url}/trades",
        json={"player_1": {"player_id": a, "gold": 400}, "player_2": {"player_id": b}},
        headers=server,
    ).json()
    assert trade["status"] == "accepted" and trade["player_1"]["gold"] == 500 - 60 - 400 - 4


def _seconds(instant: str) -> float:
    from bazaar.domain.clock import parse_instant

    return parse_instant(instant).timestamp()


def test_grants_and_consumptions_are_server_only_idempotent_and_ruled(
    served: tuple[str, dict[str, str]],
) -> None:
    url, server = served
    a, as_a = _farmer(url, server)
    b, _ = _farmer(url, server)
    holding = httpx.post(
        f"{url}/offers", json={"to_player_id": b, "gives": {"gold": 10}}, headers=as_a
    )
    assert holding.status_code == 201
    grant = {"items": [{"item_id": MILK, "quantity": 10}], "gold": 25, "reason": "quest_reward"}
    path = f"{url}/players/{a}/grants"
    assert httpx.post(path, json=grant, headers=as_a).status_code == 403
    keyed = {**server, "Idempotency-Key": "quest-41-player-a"}
    first = httpx.post(path, json=grant, headers=keyed)
    assert first.status_code == 201, first.text
    again = httpx.post(path, json=grant, headers=keyed)
    assert again.status_code == 201 and again.json() == first.json()
    assert first.json()["gold"] == 525 and first.json()["grant_id"] >= 1
    assert first.json()["held"] == {"gold": 10, "items": []}, "the answer shows the escrow"
    reused = httpx.post(path, json={**grant, "gold": 26}, headers=keyed)
    assert reused.status_code == 422 and reused.json()["reason"] == "idempotency_key_reused"
    unknown = httpx.post(path, json={**grant, "reason": "loot"}, headers=server)
    assert unknown.status_code == 422 and unknown.json()["reason"] == "unknown_reason"
    assert "quest_reward, repair, event_prize" in unknown.json()["detail"]
    full = httpx.post(
        path, json={"items": [{"item_id": MILK, "quantity": 91}], "reason": "event_prize"},
        headers=server,
    )  # fmt: skip
    assert full.status_code == 409 and full.json()["reason"] == "capacity_exceeded"
    spend = f"{url}/players/{a}/consumptions"
    held = httpx.post(spend, json={"gold": 516, "reason": "repair"}, headers=server)
    assert held.status_code == 409 and held.json()["reason"] == "insufficient_gold"
    assert "(not held by open offers)" in held.json()["detail"]
    repair = httpx.post(spend, json={"gold": 515, "reason": "repair"}, headers=server)
    assert repair.status_code == 201 and repair.json()["gold"] == 10
    broke = httpx.post(spend, json={"gold": 1, "reason": "repair"}, headers=server)
    assert broke.status_code == 409 and broke.json()["reason"] == "insufficient_gold"
    nothing = httpx.post(spend, json={"reason": "repair"}, headers=server)
    assert nothing.status_code == 422 and nothing.json()["reason"] == "empty_adjustment"
    state = httpx.get(f"{url}/players/{a}", headers=server).json()
    assert (state["gold"], state["version"]) == (10, 3), "applied once each"
