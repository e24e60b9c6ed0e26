"""The live dashboard in a real browser (Debian's chromium, headless, driven by playwright):
after trades through the API, its figures equal what the API says, it refreshes by itself,
and it loads nothing from another host."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx

from bazaar.lake.follower import wait_for_lake
from tests.support.server import running_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _trade(a: int, b: int, gold: int) -> dict[str, Any]:
    return {"player_1": {"player_id": a, "gold": gold}, "player_2": {"player_id": b}}


def _trade_some(api: str, players: list[int], n: int) -> list[int]:
    statuses = []
    for i in range(n):
        gold = 10**9 if i % 4 == 0 else 1 + i % 3  # every fourth breaks the gold rule
        a, b = players[i % len(players)], players[(i + 1) % len(players)]
        statuses.append(httpx.post(f"{api}/trades", json=_trade(a, b, gold)).status_code)
    return statuses


def _supply(api: str, players: list[int]) -> tuple[int, int]:
    views = [httpx.get(f"{api}/players/{p}").json() for p in players]
    gold = sum(v["gold"] for v in views)
    value = sum(i["value"] * i["quantity"] for v in views for i in v["items"])
    return gold, value


def _figures(page: Any) -> dict[str, str]:
    shown: dict[str, str] = page.eval_on_selector_all(
        "[data-metric]",
        "els => Object.fromEntries(els.map(e => [e.dataset.metric, e.textContent.trim()]))",
    )
    return shown


def _wait_for(
    page: Any, metric: str, expected: str, *also: str, timeout: float = 30.0
) -> dict[str, str]:
    """The figures once `metric` shows `expected` and every metric in `also` is drawn (or
    whatever is shown when `timeout` passes, for the assertions to name)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = _figures(page)
        drawn = shown.get(metric) == expected and all(name in shown for name in also)
        if drawn or time.monotonic() > deadline:
            return shown
        time.sleep(0.2)


def test_dashboard_figures_match_the_api(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: apt-get install -y chromium"
    lake = tmp_path / "lake"
    with running_server(f"sqlite:///{tmp_path}/d.db", extra=["--lake", str(lake)]) as api:
        players = [
            httpx.post(f"{api}/players", json={"player_class": c}).json()["player_id"]
            for c in ("banker", "farmer", "hunter", "blacksmith")
        ]
        statuses = _trade_some(api, players, 20)
        head = httpx.get(f"{api}/health").json()["outbox_head"]
        assert wait_for_lake(lake, head, timeout=30)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            hosts: set[str] = set()
            page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
            page.goto(f"{api}/dashboard")
            accepted = str(statuses.count(200))
            shown = _wait_for(page, "trades_accepted", accepted, "rejected_insufficient_gold")
            gold, value = _supply(api, players)
            assert shown.get("trades_accepted") == accepted, shown
            assert shown["trades_rejected"] == str(statuses.count(409)) == "5"
            assert shown.get("rejected_insufficient_gold") == "5", shown
            assert shown["players"] == "4"
            assert shown["money_supply"] == str(gold)
            assert shown["item_value"] == str(value)
            assert float(shown["trades_per_second"]) > 0  # the trades were seconds ago
            assert float(shown["freshness_seconds"]) >= 0
            assert 0 <= float(shown["gini_gold"]) <= 1

            more = _trade_some(api, players, 8)  # it refreshes on its own
            expected = str(statuses.count(200) + more.count(200))
            assert _wait_for(page, "trades_accepted", expected)["trades_accepted"] == expected
            assert hosts == {api.split("/")[2]}, f"requests to other hosts: {hosts}"
            browser.close()


def test_no_dashboard_without_a_lake(tmp_path: Path) -> None:
    with running_server(f"sqlite:///{tmp_path}/d.db") as api:
        assert httpx.get(f"{api}/dashboard").status_code == 404
