"""The business questions and exploit detectors, on lakes built by the real pipeline
(SQLite store -> outbox -> ingest -> Delta) and answered by DuckDB and by Spark."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bazaar.analytics.asking import AskOptions, parse_at
from bazaar.analytics.engines import (
    LAKE_TABLES,
    DuckDBEngine,
    Engine,
    open_engine,
)
from bazaar.analytics.questions import ask
from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import NewPlayer
from bazaar.domain.trading import Accepted, Rejected
from bazaar.spark.session import stop_spark
from bazaar.store.base import Store
from tests.support.lake_builder import accepted, forge_rows, ingest, player, trade
from tests.support.report_page import hosts_named, read_report

ENGINES = ["duckdb", "spark"]
CATALOG = load_catalog()


@pytest.fixture(scope="module", autouse=True)
def _spark_session_per_module() -> Iterator[None]:
    yield
    stop_spark()


def _engine(name: str, lake: Path) -> Engine:
    return open_engine(name, lake, spark_master="local[2]")


# -- the hand-built scenario ----------------------------------------------------------------


@dataclass
class Scenario:
    lake: Path
    at: dict[str, str]  # step name -> executed_at of that trade
    ids: dict[str, int]  # username -> player_id


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Four players, six accepted and two rejected trades, with ties built in."""
    root = tmp_path_factory.mktemp("scenario")
    store = open_store(f"sqlite:///{root / 'bazaar.db'}", CATALOG)
    alice = player(store, "farmer", "alice").player_id  # 5 x500, 6 x399
    bob = player(store, "hunter", "bob").player_id  # 7 x450, 8 x449
    carol = player(store, "warrior", "carol").player_id  # 18 x898, 19 x1 (1,000,000)
    dave = player(store, "tailor", "dave").player_id  # 9 x700, 10 x199
    at: dict[str, str] = {}
    at["t1"] = accepted(trade(store, alice, bob, items_1=[(5, 10)], items_2=[(7, 5)])).executed_at
    r1 = trade(store, alice, bob, items_1=[(5, 10_000)])
    assert isinstance(r1, Rejected)
    at["t2"] = accepted(trade(store, dave, carol, items_1=[(9, 10)], gold_2=50)).executed_at
    at["t3"] = accepted(trade(store, carol, dave, items_1=[(19, 1)], items_2=[(10, 5)])).executed_at
    assert isinstance(trade(store, bob, bob, gold_1=1), Rejected)
    # alice and bob both reach 4 distinct items in the same state instant: lowest id wins.
    at["t4"] = accepted(trade(store, bob, alice, items_1=[(8, 4)], items_2=[(6, 3)])).executed_at
    # alice keeps 4 distinct items in a later state: the earlier state still wins "ever".
    at["t5"] = accepted(trade(store, carol, alice, items_1=[(18, 1)], items_2=[(7, 5)])).executed_at
    # both sides give item 5: one trade for item 5, three units moved.
    at["t6"] = accepted(trade(store, alice, bob, items_1=[(5, 2)], items_2=[(5, 1)])).executed_at
    ingest(store, root / "lake")
    store.close()
    return Scenario(root / "lake", at, {"alice": alice, "bob": bob, "carol": carol, "dave": dave})


@pytest.mark.parametrize("engine_name", ENGINES)
def test_scenario_answers_ever_and_as_of_moments(engine_name: str, scenario: Scenario) -> None:
    s, ids = scenario, scenario.ids
    engine = _engine(engine_name, s.lake)
    try:
        ever = ask(engine, ["q1", "q2", "q3", "q4"])
        at_t3 = ask(engine, ["q1", "q2", "q3", "q4"], AskOptions(at=parse_at(s.at["t3"])))
        at_t1 = ask(engine, ["q3"], AskOptions(at=parse_at(s.at["t1"])))
        at_t5 = ask(engine, ["q2", "q3"], AskOptions(at=parse_at(s.at["t5"])))
        before = ask(engine, ["q1", "q2", "q3"], AskOptions(at=parse_at("2000-01-01T00:00:00Z")))
    finally:
        engine.close()

    assert ever["q1"] == {"trades": 6, "rejected": 2}
    # items 5 (t1, t6) and 7 (t1, t5) both changed hands in two trades: lowest id wins.
    assert ever["q2"] == {"item_id": 5, "name": "Food Package", "trades": 2, "quantity": 13}
    assert ever["q3"] == {
        "player_id": ids["alice"],
        "username": "alice",
        "distinct_items": 4,
        "at": s.at["t4"],
    }
    # dave after t3: 9 x690, 10 x194, 19 x1 = 3,450 + 58,200 + 1,000,000; gold 1000 + 50 from carol.
    assert ever["q4"] == {
        "player_id": ids["dave"],
        "username": "dave",
        "items_value": 1_061_650,
        "gold": 1050,
        "at": s.at["t3"],
    }

    # As of t3 (inclusive): three trades, one rejection; states as they stood then.
    assert at_t3["q1"] == {"trades": 3, "rejected": 1}
    assert at_t3["q2"] == {"item_id": 5, "name": "Food Package", "trades": 1, "quantity": 10}
    assert at_t3["q3"] == {
        "player_id": ids["alice"],
        "username": "alice",
        "distinct_items": 3,
        "at": s.at["t1"],
    }
    assert at_t3["q4"]["player_id"] == ids["dave"] and at_t3["q4"]["at"] == s.at["t3"]
    assert at_t1["q3"]["player_id"] == ids["alice"] and at_t1["q3"]["at"] == s.at["t1"]
    # At t5, alice's latest state is t5's (4 items) and bob's is t4's (4 items): bob's began
    # first, although "ever" alice's t4 state ties it and has the lower id.
    assert at_t5["q3"] == {
        "player_id": ids["bob"],
        "username": "bob",
        "distinct_items": 4,
        "at": s.at["t4"],
    }
    assert at_t5["q2"] == {"item_id": 7, "name": "Venison", "trades": 2, "quantity": 10}
    assert before == {"q1": {"trades": 0, "rejected": 0}, "q2": None, "q3": None}


@pytest.mark.parametrize("engine_name", ENGINES)
def test_scenario_trade_graph_ever_and_as_of_moments(engine_name: str, scenario: Scenario) -> None:
    """Pairs: alice-bob trade three times (t1, t4, t6), carol-dave twice (t2, t3), carol-alice
    once (t5); rejected trades (one a self-trade) are no edges."""
    s, ids = scenario, scenario.ids
    engine = _engine(engine_name, s.lake)
    try:
        moments = {
            name: ask(engine, ["trade_graph"], AskOptions(at=parse_at(at)))["trade_graph"]
            for name, at in [("t1", s.at["t1"]), ("t3", s.at["t3"]), ("before", "2000-01-01Z")]
        }
        ever = ask(engine, ["trade_graph"])["trade_graph"]
    finally:
        engine.close()

    alice_bob = sorted([ids["alice"], ids["bob"]])
    assert ever == {
        "players": 4,
        "traders": 4,
        "edges": 3,
        "trades": 6,
        "trades_per_edge": 2.0,
        "mean_degree": 1.5,
        "density": 0.5,
        "heaviest_edge": {"players": alice_bob, "trades": 3},
    }
    # At t3 carol-dave (two trades) outweighs alice-bob (one); at t1 only alice and bob traded.
    assert moments["t3"]["edges"] == 2 and moments["t3"]["trades"] == 3
    assert moments["t3"]["heaviest_edge"] == {
        "players": sorted([ids["carol"], ids["dave"]]),
        "trades": 2,
    }
    assert (moments["t1"]["traders"], moments["t1"]["edges"]) == (2, 1)
    assert moments["t1"]["heaviest_edge"] == {"players": alice_bob, "trades": 1}
    assert moments["before"] == {
        "players": 0,
        "traders": 0,
        "edges": 0,
        "trades": 0,
        "trades_per_edge": 0.0,
        "mean_degree": 0.0,
        "density": 0.0,
        "heaviest_edge": None,
    }


# -- a random honest economy, then exploiters -----------------------------------------------


@dataclass
class Economy:
    lake: Path
    store_path: Path
    honest: set[int]
    actors: dict[str, int]
    created: dict[int, tuple[int, int, str]]  # player -> (distinct, value, at) at creation
    states: list[tuple[int, int, int, str]]  # (player, distinct, items value, at) after trades
    accepted: int
    rejected: int


def _value(items: dict[int, int]) -> int:
    return sum(CATALOG.items[i].value * q for i, q in items.items())


def _honest_trades(
    store: Store, players: list[int], rng: random.Random, n: int
) -> tuple[list[Accepted], int]:
    """Fair trades: player_1 gives some units of one item, player_2 pays about its value in
    gold (+-20%). Returns the accepted trades and how many were rejected (short of gold)."""
    done: list[Accepted] = []
    rejected = 0
    while len(done) < n:
        one, two = rng.sample(players, 2)
        holder = store.get_player(one)
        item = rng.choice(sorted(holder.items))
        quantity = rng.randint(1, min(5, holder.items[item]))
        value = CATALOG.items[item].value * quantity
        gold = max(1, round(value * rng.uniform(0.8, 1.2)))
        outcome = trade(store, one, two, items_1=[(item, quantity)], gold_2=gold)
        if isinstance(outcome, Accepted):
            done.append(outcome)
        else:
            rejected += 1
    return done, rejected


@pytest.fixture(scope="module")
def economy(tmp_path_factory: pytest.TempPathFactory) -> Economy:
    root = tmp_path_factory.mktemp("economy")
    store = open_store(f"sqlite:///{root / 'bazaar.db'}", CATALOG)
    rng = random.Random(20261129)
    honest_states = [
        store.create_player(NewPlayer(CATALOG.draw_class(rng).name, f"honest-{n}"))
        for n in range(12)
    ]
    honest = [p.player_id for p in honest_states]
    created = {
        p.player_id: (len(p.items), _value(dict(p.items)), p.created_at) for p in honest_states
    }
    trades, rejected = _honest_trades(store, honest, rng, 150)
    states = [
        (s.player_id, len(s.items), _value(dict(s.items)), t.executed_at)
        for t in trades
        for s in (t.player_1, t.player_2)
    ]
    ingest(store, root / "lake")
    store.close()
    return Economy(
        root / "lake", root / "bazaar.db", set(honest), {}, created, states, len(trades), rejected
    )


def _flagged(exploits: dict[str, Any]) -> dict[str, set[int]]:
    return {name: {s["player_id"] for s in d["suspects"]} for name, d in exploits.items()}


def test_clean_run_q3_q4_match_the_store_history_and_engines_agree(economy: Economy) -> None:
    answers = {}
    for name in ENGINES:
        engine = _engine(name, economy.lake)
        try:
            answers[name] = ask(engine, ["all"])
        finally:
            engine.close()
    duck = answers["duckdb"]

    assert duck["q1"] == {"trades": economy.accepted, "rejected": economy.rejected}
    history = [(pid, d, v, at) for pid, (d, v, at) in economy.created.items()] + economy.states
    best_distinct = max(d for _, d, _, _ in history)
    first = min((at, pid) for pid, d, _, at in history if d == best_distinct)
    assert (duck["q3"]["distinct_items"], duck["q3"]["at"], duck["q3"]["player_id"]) == (
        best_distinct,
        first[0],
        first[1],
    )
    best_value = max(v for _, _, v, _ in history)
    first = min((at, pid) for pid, _, v, at in history if v == best_value)
    assert (duck["q4"]["items_value"], duck["q4"]["at"], duck["q4"]["player_id"]) == (
        best_value,
        first[0],
        first[1],
    )
    # Nobody honest is a suspect, and nothing was duplicated.
    assert all(not found for found in _flagged(duck["exploits"]).values())
    assert duck["exploits"]["conservation"]["conserved"] is True
    assert _normalised(answers["spark"]) == _normalised(duck)


def test_duckdb_native_parquet_answers_as_the_arrow_dataset_does(economy: Economy) -> None:
    """DuckDB reads a local lake's Parquet files itself (partition values from the paths);
    every answer, ever and as of a moment mid-run, equals the Arrow dataset's."""
    middle = AskOptions(at=parse_at(economy.states[len(economy.states) // 2][3]))
    from deltalake import DeltaTable

    with_files = {
        t for t in LAKE_TABLES
        if (economy.lake / t).exists() and DeltaTable(str(economy.lake / t)).file_uris()
    }  # fmt: skip
    assert {"players", "trades", "player_states", "holdings"} <= with_files
    answers = []
    for native in (True, False):
        engine = DuckDBEngine(economy.lake, native_parquet=native)
        try:
            # a table this run never wrote (no offers, grants or fees) has no file to read
            assert engine.native_tables == (with_files if native else set())
            answers.append((ask(engine, ["all"]), ask(engine, ["all"], middle)))
        finally:
            engine.close()
    assert answers[0] == answers[1]
    assert answers[0][1]["q1"]["trades"] < economy.accepted


def _normalised(value: Any) -> Any:
    """Float sums may differ in the last bits between engines (summation order)."""
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {k: _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


@dataclass
class Exploiters:
    lake: Path
    honest: set[int]
    ids: dict[str, int]
    victim_of_dup: int


@pytest.fixture(scope="module")
def exploiters(economy: Economy, tmp_path_factory: pytest.TempPathFactory) -> Exploiters:
    """The clean economy, continued: a gold farmer's mules feed a boss, a shark fleeces
    three honest players, two accounts wash the same trophies back and forth, three times."""
    root = tmp_path_factory.mktemp("exploiters")
    shutil.copy(economy.store_path, root / "bazaar.db")
    shutil.copytree(economy.lake, root / "lake")
    store = open_store(f"sqlite:///{root / 'bazaar.db'}", CATALOG)
    ids = {
        name: player(store, cls, name).player_id
        for name, cls in [
            ("boss", "farmer"),
            ("mule-1", "banker"),
            ("mule-2", "banker"),
            ("mule-3", "aristocrat"),
            ("mule-4", "trader"),
            ("shark", "blacksmith"),
            ("wash-a", "warrior"),
            ("wash-b", "hunter"),
        ]
    }
    for mule in ("mule-1", "mule-2", "mule-3", "mule-4"):
        accepted(trade(store, ids[mule], ids["boss"], gold_1=20_000))
    victims = sorted(economy.honest)[:3]
    for victim in victims:
        holder = store.get_player(victim)
        item = max(holder.items, key=lambda i: CATALOG.items[i].value * min(holder.items[i], 20))
        quantity = min(holder.items[item], 20)
        worth = CATALOG.items[item].value * quantity
        # the shark pays a sixth of the value in iron swords (10 gold each)
        swords = max(1, worth // 60)
        accepted(
            trade(store, victim, ids["shark"], items_1=[(item, quantity)], items_2=[(2, swords)])
        )
    for _ in range(3):
        accepted(trade(store, ids["wash-a"], ids["wash-b"], items_1=[(18, 5)], gold_2=250))
        accepted(trade(store, ids["wash-b"], ids["wash-a"], items_1=[(18, 5)], gold_2=250))
    ingest(store, root / "lake")
    store.close()
    return Exploiters(root / "lake", economy.honest, ids, sorted(economy.honest)[-1])


@pytest.mark.parametrize("engine_name", ENGINES)
def test_detectors_name_the_exploiters_and_no_honest_player(
    engine_name: str, exploiters: Exploiters
) -> None:
    ids = exploiters.ids
    engine = _engine(engine_name, exploiters.lake)
    try:
        found = ask(engine, ["exploits"])["exploits"]
    finally:
        engine.close()
    flagged = _flagged(found)
    mules = {ids[f"mule-{n}"] for n in range(1, 5)}
    assert flagged["value_funnels"] == {ids["boss"]} | mules
    assert flagged["lopsided_trades"] == {ids["shark"]}
    assert flagged["wash_trading"] == {ids["wash-a"], ids["wash-b"]}
    assert flagged["conservation"] == set()
    roles = {s["player_id"]: s["role"] for s in found["value_funnels"]["suspects"]}
    assert roles == {ids["boss"]: "sink", **dict.fromkeys(mules, "feeder")}
    boss = next(s for s in found["value_funnels"]["suspects"] if s["role"] == "sink")
    assert boss["counterparts"] == 4 and boss["value_in"] == 80_000 and boss["value_out"] == 0
    assert boss["counterpart_ids"] == sorted(mules) and len(boss["trade_ids"]) == 4
    shark = next(s for s in found["lopsided_trades"]["suspects"] if s["player_id"] == ids["shark"])
    assert shark["role"] == "beneficiary" and shark["trades"] == 3 and shark["counterparts"] == 3
    wash = found["wash_trading"]["suspects"][0]
    assert wash["cycles"] == 3 and wash["trades"] == 6


def test_conservation_audit_catches_a_duplication_bug(exploiters: Exploiters) -> None:
    """A forged holdings row (units from nowhere, as a duplication bug would write) shows as
    drift on its item and points at the account holding the extra units."""
    root = exploiters.lake.parent / "duplicated"
    shutil.copytree(exploiters.lake, root)
    from deltalake import DeltaTable

    cheat = exploiters.victim_of_dup
    held = DeltaTable(str(root / "holdings")).to_pyarrow_table().to_pylist()
    last = max((r for r in held if r["player_id"] == cheat), key=lambda r: r["version"])
    now_us = int(last["at"].timestamp() * 1_000_000) + 1
    forge_rows(
        root,
        "holdings",
        [
            (
                cheat,
                last["item_id"],
                last["quantity"] + 100,
                last["version"] + 1,
                now_us,
                "forged",
                last["event_date"],
            )
        ],
    )
    engine = _engine("duckdb", root)
    try:
        audit = ask(engine, ["exploits"])["exploits"]["conservation"]
    finally:
        engine.close()
    assert audit["conserved"] is False
    drift = {row["item_id"]: row["drift"] for row in audit["items"] if row["drift"]}
    assert drift == {last["item_id"]: 100}
    assert [s["player_id"] for s in audit["suspects"]] == [cheat]
    assert audit["suspects"][0]["evidence"][0]["drift"] == 100


def test_cli_json_output_is_one_object_keyed_by_question(scenario: Scenario) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bazaar",
            "ask",
            "q1",
            "q2",
            "q3",
            "q4",
            "exploits",
            "--lake",
            str(scenario.lake),
            "--format",
            "json",
            "--at",
            scenario.at["t3"],
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answers = json.loads(run.stdout)
    # The questions in the order asked, then the event position the lake was read at.
    assert list(answers) == ["q1", "q2", "q3", "q4", "exploits", "lake"]
    assert answers["lake"]["consistent"] is True and answers["lake"]["warning"] is None
    assert answers["q1"] == {"trades": 3, "rejected": 1}
    assert set(answers["q2"]) == {"item_id", "name", "trades", "quantity"}
    assert set(answers["q3"]) == {"player_id", "username", "distinct_items", "at"}
    assert set(answers["q4"]) == {"player_id", "username", "items_value", "gold", "at"}
    assert set(answers["exploits"]) == {
        "lopsided_trades",
        "value_funnels",
        "wash_trading",
        "conservation",
    }


def test_cli_refuses_a_bad_moment_and_a_missing_lake(scenario: Scenario, tmp_path: Path) -> None:
    bad_at = subprocess.run(
        [
            sys.executable,
            "-m",
            "bazaar",
            "ask",
            "q1",
            "--lake",
            str(scenario.lake),
            "--at",
            "yesterday",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad_at.returncode == 2 and "ISO-8601" in bad_at.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "bazaar", "ask", "q1", "--lake", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no lake" in missing.stderr


def test_report_is_one_self_contained_html_file(scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run = subprocess.run(
        [sys.executable, "-m", "bazaar", "report", "--lake", str(scenario.lake), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    html = out.read_text("utf-8")
    page = read_report(html)
    for chart in ("trades_over_time", "item_velocity", "wealth_gini"):
        assert page.charts_named(chart)
    # plotly.js is inlined: nothing is loaded from another host, the file opens offline
    assert "<script src" not in html and hosts_named(page.text_outside_plotly) == set()
    for heading in ("q1", "q4", "Most active traders", "lopsided_trades", "conservation"):
        assert heading in html
    assert "alice" in html and "dave" in html


def test_report_series_are_the_same_on_both_engines(scenario: Scenario) -> None:
    from bazaar.analytics.economy import economy

    series = {}
    for name in ENGINES:
        engine = _engine(name, scenario.lake)
        try:
            answers = ask(engine, ["top_traders", "q3", "q4", "exploits"])
            series[name] = economy(engine, AskOptions(), answers)
        finally:
            engine.close()
    duck, spark = series["duckdb"], series["spark"]
    assert duck["buckets"] == spark["buckets"] and duck["buckets"].count >= 1
    for key in ("activity", "rejections", "supply", "flows", "classes", "players",
                "player_states", "player_items", "player_partners"):  # fmt: skip
        assert duck[key] == spark[key], key
    assert len(duck["prices"]) == len(spark["prices"])
    for d, s in zip(duck["prices"], spark["prices"], strict=True):
        assert d == {**s, "mean_price": pytest.approx(s["mean_price"])}
    assert sum(f["gold"] for f in duck["flows"]) == sum(r["gold_change"] for r in duck["supply"])
    assert set(duck["players"]) == set(scenario.ids.values())  # all four traded
