"""The in-process simulator against real SQLite files: what lands in the store."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bazaar.cli.main import main
from bazaar.domain.catalog import Catalog
from bazaar.simulate.driver import run_simulation
from bazaar.simulate.plan import SimulationPlan
from bazaar.store.base import Store
from bazaar.store.sqlite import SQLiteStore
from tests.support.ledger import holdings, outbox_events, supply
from tests.support.stores import open_url


def _requests(store: Store, count: int) -> list[dict[str, Any]]:
    """Every trade the store recorded, as the request that asked for it."""
    return [store.get_trade(n).request.to_document() for n in range(1, count + 1)]


def _economy_sequence(store: Store) -> list[Any]:
    """Grants, consumptions and offers as the store's events name them, in order."""
    sequence: list[Any] = []
    for event in outbox_events(store):
        kind, payload = event["event_type"], event["payload"]
        if kind in ("goods_granted", "goods_consumed"):
            sequence.append((kind, payload["player_id"], payload["gold"], payload["items"],
                             payload["reason"]))  # fmt: skip
        elif kind.startswith("offer_"):
            sequence.append((kind, payload["offer_id"]))
    return sequence


def test_same_seed_twice_sends_the_identical_request_sequence(
    catalog: Catalog, tmp_path: Path
) -> None:
    plan = SimulationPlan(players=60, trades=600, seed=11, exploiters=1)
    runs = []
    for name in ("first", "second"):
        with SQLiteStore(tmp_path / f"{name}.db", catalog) as store:
            summary = run_simulation(store, plan, batch=64)
            assert summary.sent == 600
            assert summary.economy["grants"] > 0 and summary.economy["offers created"] > 0
            recorded = summary.accepted + summary.rejected  # declined offers trade nothing
            runs.append(_requests(store, recorded) + _economy_sequence(store))
    assert runs[0] == runs[1]
    with SQLiteStore(tmp_path / "other.db", catalog) as store:
        run_simulation(store, SimulationPlan(players=60, trades=600, seed=12, exploiters=1))
        assert _requests(store, 500) != runs[0][:500]


def test_the_store_agrees_with_the_simulator_and_nothing_is_created(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trades, quest rewards, repairs and offers (declined, countered, accepted) on each
    store: the simulator's model of every player ends equal to the store's."""
    from bazaar.simulate import driver
    from bazaar.simulate.planner import TradePlanner

    planners: list[TradePlanner] = []

    def planner(*args: Any) -> TradePlanner:
        planners.append(TradePlanner(*args))
        return planners[-1]

    monkeypatch.setattr(driver, "TradePlanner", planner)
    store = open_url(store_url)
    try:
        plan = SimulationPlan(players=50, trades=1500, seed=2, grant_rate=0.2, offer_rate=0.3)
        summary = run_simulation(store, plan, batch=200)
        assert summary.diverged == 0 and summary.failed == 0
        assert summary.accepted + summary.rejected + summary.declined == 1500
        assert summary.rejected > 0  # the mistakes players make are refused and recorded
        assert "self_trade" not in summary.rejections
        economy = summary.economy
        assert economy["grants"] > 0 and economy["consumptions"] > 0
        assert economy["offers countered"] > 0 and economy["offers declined"] > 0
        assert "offers failed" not in economy
        assert holdings(store) == supply(store.catalog, store)
        assert len(store.player_ids()) == 50
        in_store = [(p.gold, dict(p.items)) for p in map(store.get_player, summary.player_ids)]
        assert [(h.gold, h.items) for h in planners[0].ledger.holdings] == in_store
        assert not any(p.held_gold or p.held_items for p in store.players())
        kinds = Counter(e["event_type"] for e in outbox_events(store))
        assert kinds["goods_granted"] == economy["grants"]
        assert kinds["offer_created"] == economy["offers created"]
        # the few left to expire were swept at their deadline, their holds released
        assert kinds["offer_expired"] == economy["offers expired"] == 4
        assert economy["offers left to expire"] == 4
    finally:
        store.close()


def test_exploiters_trade_as_labelled_in_the_store(catalog: Catalog, tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "b.db", catalog) as store:
        summary = run_simulation(
            store, SimulationPlan(players=80, trades=2000, seed=5, exploiters=1)
        )
        recorded = summary.accepted + summary.rejected  # declined offers trade nothing
        trades = [store.get_trade(n) for n in range(1, recorded + 1)]
    accepted = [t.request for t in trades if t.status == "accepted"]
    kinds = summary.truth["kinds"]
    value = {i: item.value for i, item in catalog.items.items()}

    def worth(side: Any) -> int:
        return int(side.gold + sum(value[line.item_id] * line.quantity for line in side.items))

    funnel = kinds["gold_funnel"][0]
    assert funnel["variant"] == "small_gifts"
    sink = next(m["player_id"] for m in funnel["members"] if m["role"] == "sink")
    for feeder in (m["player_id"] for m in funnel["members"] if m["role"] == "feeder"):
        gifts = [
            r for r in accepted if r.player_1.player_id == feeder and r.player_2.player_id == sink
        ]
        assert len(gifts) >= 1
        assert all(worth(r.player_1) > 0 and r.player_2.gives_nothing for r in gifts)

    ring = [m["player_id"] for m in kinds["wash_trading"][0]["members"]]
    hops = [
        (n, r)
        for n, r in enumerate(accepted)
        if r.player_1.player_id in ring and r.player_2.player_id in ring
    ]
    assert len(hops) >= 3 * len(ring)
    n0, first = hops[0]
    home = [
        n
        for n, r in hops[1:]
        if r.player_2.player_id == first.player_1.player_id
        and r.player_1.items == first.player_1.items
    ]
    assert home and home[0] - n0 < 20  # the same stack is back within a few trades

    trader = kinds["lopsided_trader"][0]["members"][0]["player_id"]
    lopsided = [r for r in accepted if r.player_1.player_id == trader]
    assert len(lopsided) >= 5
    assert all(worth(r.player_2) >= 3 * worth(r.player_1) for r in lopsided)  # moderate: 4-6x
    assert len({r.player_2.player_id for r in lopsided}) >= 3  # many different victims


def test_cli_in_process_writes_the_truth_and_a_summary(tmp_path: Path) -> None:
    truth, summary = tmp_path / "truth.json", tmp_path / "summary.json"
    code = main(
        [
            "simulate", "--in-process", "--store", f"sqlite:///{tmp_path / 'b.db'}",
            "--players", "40", "--trades", "400", "--seed", "3", "--exploiters", "1",
            "--truth", str(truth), "--summary-json", str(summary),
        ]
    )  # fmt: skip
    assert code == 0
    written = json.loads(truth.read_text())
    assert Counter({k: len(v) for k, v in written["kinds"].items()}) == Counter(
        gold_funnel=1, wash_trading=1, lopsided_trader=1
    )
    assert {e["kind"] for e in written["exploiters"]} == set(written["kinds"])
    result = json.loads(summary.read_text())
    assert result["accepted"] + result["rejected"] + result["declined"] == 400
    assert result["economy"]["grants"] > 0 and result["economy"]["offers accepted"] > 0


def test_cli_refuses_store_flags_with_an_api_url(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--api", "http://127.0.0.1:9", "--store", "sqlite:///x.db"])
    assert exit_.value.code == 2
    assert "--in-process" in capsys.readouterr().err


@pytest.mark.parametrize("processes", [1, 2])
def test_trades_by_someone_else_are_noticed_and_the_model_mended(
    catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: int
) -> None:
    """Another client gives gold between simulated players while the run goes on: the
    answers are checked where the store runs (its own process with 2), those unlike the
    model are reported, and the planner goes on from what the store holds (nothing fails,
    nothing is created or lost), planning a batch or two ahead all the while."""
    from bazaar.domain.model import TradeRequest, TradeSide
    from bazaar.simulate import driver
    from bazaar.simulate.planner import TradePlanner
    from bazaar.simulate.stats import SimulationStats

    monkeypatch.setattr(driver, "PROGRESS_EVERY", 0.0)
    planners: list[TradePlanner] = []

    def planner(*args: Any) -> TradePlanner:
        planners.append(TradePlanner(*args))
        return planners[-1]

    monkeypatch.setattr(driver, "TradePlanner", planner)
    path = tmp_path / "b.db"
    other = SQLiteStore(path, catalog)
    gifts: list[str] = []

    def meddle(stats: SimulationStats) -> None:
        # Not near the end: a gift is seen at the next accepted trade of its players.
        if stats.phase == "trading" and 0 < stats.sent <= 2500:
            ids = other.player_ids()
            for n in range(5):
                giver, taker = (
                    ids[(len(gifts) + n) % len(ids)],
                    ids[(len(gifts) + n + 1) % len(ids)],
                )
                gift = TradeRequest(TradeSide(giver, (), 1), TradeSide(taker))
                gifts.append(other.execute_trade(gift).status)

    with SQLiteStore(path, catalog) as store:
        assert store.capabilities.forkable
        plan = SimulationPlan(players=30, trades=3000, seed=4)
        summary = driver.simulate_in_process(
            store, plan, progress=meddle, batch=100, processes=processes
        )
        assert gifts.count("accepted") >= 50
        assert summary.failed == 0
        assert summary.accepted + summary.rejected + summary.declined == 3000
        assert summary.diverged > 0
        assert holdings(store) == supply(catalog, store)
        # The planner's model ends holding what the store holds, player by player.
        in_store = [(p.gold, dict(p.items)) for p in map(store.get_player, summary.player_ids)]
        assert [(h.gold, h.items) for h in planners[0].ledger.holdings] == in_store
    other.close()


def test_a_store_failing_in_its_process_ends_the_run_with_a_simulation_error(
    catalog: Catalog, tmp_path: Path
) -> None:
    from bazaar.domain.errors import StoreUnavailable
    from bazaar.simulate.stats import SimulationError

    class FailingStore(SQLiteStore):
        def execute_trades(self, batch):  # type: ignore[no-untyped-def]
            raise StoreUnavailable("disk full")

    with FailingStore(tmp_path / "b.db", catalog) as store:
        with pytest.raises(SimulationError, match="disk full"):
            run_simulation(store, SimulationPlan(players=20, trades=500, seed=1), batch=100)
        assert len(store.player_ids()) == 20  # the parent goes on using the store
