"""The simulator over HTTP against a real `bazaar serve` with the SQLite store."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from bazaar.simulate import http_driver
from bazaar.simulate.driver import run_simulation
from bazaar.simulate.plan import SimulationPlan
from bazaar.simulate.planner import TradePlanner
from bazaar.simulate.stats import SimulationStats
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.server import running_server
from tests.support.stores import open_url


def test_a_simulated_economy_over_http_keeps_every_guarantee(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'bazaar.db'}"
    seen: list[tuple[int, int]] = []
    planners: list[TradePlanner] = []

    def planner(*args: Any) -> TradePlanner:
        planners.append(TradePlanner(*args))
        return planners[-1]

    monkeypatch.setattr(http_driver, "TradePlanner", planner)

    def progress(stats: SimulationStats) -> None:
        seen.append((stats.players, stats.sent))

    with running_server(url) as api:
        summary = run_simulation(
            api,
            SimulationPlan(players=100, trades=2000, seed=1, exploiters=1),
            concurrency=32,
            progress=progress,
        )
    assert summary.server_errors == 0 and summary.failed == 0
    assert summary.sent == 2000
    assert summary.accepted + summary.rejected + summary.declined == 2000
    economy = summary.economy
    assert economy["grants"] > 0 and economy["consumptions"] > 0
    assert economy["offers accepted"] > economy["offers declined"] > 0
    assert economy["offers countered"] > 0 and "offers failed" not in economy
    assert summary.diverged == 0  # every answer matched the simulator's own model
    assert seen[-1] == (100, 2000)
    store = open_url(url)
    try:
        assert holdings(store) == supply(store.catalog, store)  # conservation
        events = outbox_events(store)
        accepted = sum(e["event_type"] == "trade_accepted" for e in events)
        assert accepted == summary.accepted
        assert sum(e["event_type"] == "trade_rejected" for e in events) == summary.rejected
        assert sorted(store.player_ids()) == sorted(summary.player_ids)
        kinds = Counter(e["event_type"] for e in events)
        assert kinds["goods_granted"] == economy["grants"]
        assert kinds["goods_consumed"] == economy["consumptions"]
        assert kinds["offer_created"] == economy["offers created"]
        assert kinds["offer_countered"] == economy["offers countered"]
        assert kinds["offer_declined"] == economy["offers declined"] == summary.declined
        # the server's sweeper expired those left open, nobody touching them
        assert kinds["offer_expired"] == economy["offers expired"] == 4
        # The simulator's model ends holding what the store holds, player by player, and
        # no offer is left holding goods.
        in_store = [(p.gold, dict(p.items)) for p in map(store.get_player, summary.player_ids)]
        assert [(h.gold, h.items) for h in planners[0].ledger.holdings] == in_store
        assert not any(p.held_gold or p.held_items for p in store.players())
    finally:
        store.close()
    truth_ids = {e["player_id"] for e in summary.truth["exploiters"]}
    assert len(truth_ids) == summary.exploiter_accounts and truth_ids <= set(summary.player_ids)


def _trade_requests(url: str, count: int) -> list[dict[str, Any]]:
    store = open_url(url)
    try:
        return [store.get_trade(n).request.to_document() for n in range(1, count + 1)]
    finally:
        store.close()


def test_same_seed_sends_the_same_requests_at_any_concurrency(tmp_path: Path) -> None:
    plan = SimulationPlan(players=40, trades=600, seed=4, exploiters=1)
    recorded = []
    for n, concurrency in enumerate((1, 48)):
        url = f"sqlite:///{tmp_path / f'run{n}.db'}"
        with running_server(url) as api:
            summary = run_simulation(api, plan, concurrency=concurrency)
        assert summary.diverged == 0 and summary.economy["offers created"] > 0
        # Players are created concurrently, so ids may differ between runs: compare with
        # ids replaced by the simulator's slots. The store holds trades in completion order,
        # which may interleave players differently; each player's own trades keep plan order.
        slot = {pid: n for n, pid in enumerate(summary.player_ids)}
        by_player: dict[int, list[dict[str, Any]]] = {}
        for request in _trade_requests(url, summary.accepted + summary.rejected):
            for side in ("player_1", "player_2"):
                request[side]["player_id"] = slot[request[side]["player_id"]]
            for side in ("player_1", "player_2"):
                by_player.setdefault(request[side]["player_id"], []).append(request)
        recorded.append(by_player)
    assert recorded[0] == recorded[1]


def test_with_auth_on_the_simulator_acts_with_its_server_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Grants, consumptions and offers for players need a server key: given one, the run
    goes through; without, it stops with the API's refusal, not a traceback."""
    from bazaar.api.auth import new_api_key
    from bazaar.cli.main import main

    key, line = new_api_key()
    (tmp_path / "server-keys").write_text(line + "\n")
    (tmp_path / "client-key").write_text(key + "\n")
    url = f"sqlite:///{tmp_path / 'bazaar.db'}"
    summary_path = tmp_path / "summary.json"
    args = ["simulate", "--players", "20", "--trades", "300", "--seed", "2"]
    with running_server(url, extra=["--api-key-file", str(tmp_path / "server-keys")]) as api:
        with pytest.raises(SystemExit) as refused:
            main([*args, "--api", api])
        assert refused.value.code == 1
        assert "401" in capsys.readouterr().err
        code = main([*args, "--api", api, "--api-key-file", str(tmp_path / "client-key"),
                     "--summary-json", str(summary_path)])  # fmt: skip
    assert code == 0
    done = orjson.loads(summary_path.read_bytes())
    assert done["economy"]["grants"] > 0 and done["economy"]["offers accepted"] > 0
    assert done["diverged"] == 0 and done["failed"] == 0
