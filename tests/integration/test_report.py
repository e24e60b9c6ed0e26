"""`bazaar report` on lakes built by the real pipeline: charts with titled axes drawn by
the inlined plotly.js, figures that equal the store's, time buckets fitted to the run's
length, exploit evidence as tables, and a section per suspect and top trader."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable, write_deltalake

from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, OfferAction
from bazaar.domain.trading import Rejected
from tests.support.lake_builder import accepted, ingest, player, trade
from tests.support.report_page import ReportPage, hosts_named, read_report

CATALOG = load_catalog()


@dataclass
class Economy:
    lake: Path
    ids: dict[str, int]
    gold: int  # held by all players at the end
    items_value: int
    gold_created: int  # the faucet: gold players were created with
    dave_gold: int


@pytest.fixture(scope="module")
def economy(tmp_path_factory: pytest.TempPathFactory) -> Economy:
    root = tmp_path_factory.mktemp("report")
    store = open_store(f"sqlite:///{root / 'bazaar.db'}", CATALOG)
    ids = {
        name: player(store, cls, name).player_id
        for name, cls in (("alice", "farmer"), ("bob", "hunter"), ("carol", "warrior"),
                          ("dave", "tailor"))
    }  # fmt: skip
    created = sum(p.gold for p in store.players())
    # bob buys Food Packages (item 5) from alice: 10 for 20 gold, then 5 for 15 gold.
    accepted(trade(store, ids["alice"], ids["bob"], items_1=[(5, 10)], gold_2=20))
    accepted(trade(store, ids["alice"], ids["bob"], items_1=[(5, 5)], gold_2=15))
    assert isinstance(trade(store, ids["alice"], ids["bob"], items_1=[(5, 10_000)]), Rejected)
    # carol gives dave gold and trophies for nothing, again and again (1,050 of value): a
    # one-way funnel, dave its sink, a value_funnels suspect.
    for _ in range(3):
        accepted(trade(store, ids["carol"], ids["dave"], items_1=[(18, 5)], gold_1=100))
    # Offers between alice and bob: one accepted (3 venison for 12 gold), one declined, one
    # countered by bob and the counter declined by alice, one left open.
    venison_for_gold = TradeRequest(
        TradeSide(ids["bob"], (ItemLine(7, 3),)), TradeSide(ids["alice"], (), 12)
    )
    ask_bob = TradeRequest(TradeSide(ids["alice"], (), 2), TradeSide(ids["bob"], (ItemLine(7, 1),)))
    deal = store.create_offer(venison_for_gold, 600)
    store.act_on_offer(deal.offer_id, OfferAction.ACCEPT, SERVER)
    no = store.create_offer(venison_for_gold, 600)
    store.act_on_offer(no.offer_id, OfferAction.DECLINE, SERVER)
    lowball = store.create_offer(ask_bob, 600)
    counter = store.counter_offer(lowball.offer_id, venison_for_gold, 600, SERVER).counter
    store.act_on_offer(counter.offer_id, OfferAction.DECLINE, SERVER)
    store.create_offer(ask_bob, 600)
    states = store.players()
    ingest(store, root / "lake")
    store.close()
    values = {i.item_id: i.value for i in CATALOG.items.values()}
    return Economy(
        lake=root / "lake",
        ids=ids,
        gold=sum(p.gold for p in states),
        items_value=sum(values[i] * q for p in states for i, q in p.items.items()),
        gold_created=created,
        dave_gold=next(p.gold for p in states if p.player_id == ids["dave"]),
    )


def _report(lake: Path, out: Path, *extra: str) -> ReportPage:
    run = subprocess.run(
        [sys.executable, "-m", "bazaar", "report", "--lake", str(lake), "--out", str(out),
         *extra],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "report written to" in run.stderr
    return read_report(out.read_text("utf-8"))


def _last(spec: dict[str, Any], trace: str) -> object:
    return next(t for t in spec["data"] if t["name"] == trace)["y"][-1]


def test_report_charts_the_economy_with_titled_axes(economy: Economy, tmp_path: Path) -> None:
    page = _report(economy.lake, tmp_path / "report.html")
    assert set(page.charts) == set(page.specs), "every chart placed in the page has a spec"
    for name in ("trades_over_time", "rejections_over_time", "money_supply", "faucets_gold",
                 "faucets_items", "prices", "class_wealth", "item_velocity", "wealth_gini",
                 "player_holdings", "player_items", "offer_funnel"):  # fmt: skip
        assert page.charts_named(name), f"no {name} chart"
    for chart_id, spec in page.specs.items():
        layout = spec["layout"]
        assert layout["title"]["text"], chart_id
        assert layout["xaxis"]["title"]["text"] and layout["yaxis"]["title"]["text"], chart_id
    # Units on the axes.
    (supply,) = page.charts_named("money_supply")
    assert supply["layout"]["yaxis"]["title"]["text"] == "gold pieces"
    assert supply["layout"]["xaxis"]["title"]["text"].startswith("time (UTC, ")
    # The supply at the end is what the players hold; the faucet is what creation added.
    assert _last(supply, "gold held by all players") == economy.gold
    assert _last(supply, "catalog value of all items held") == economy.items_value
    (faucet,) = page.charts_named("faucets_gold")
    assert sum(faucet["data"][0]["y"]) == economy.gold_created == economy.gold
    # Food Package sold at 2 then 3 gold a unit (both in the same short bucket here).
    (prices,) = page.charts_named("prices")
    food = next(t for t in prices["data"] if t["name"] == "Food Package")
    assert food["y"] == [pytest.approx(35 / 15, abs=0.01)]
    (rejections,) = page.charts_named("rejections_over_time")
    assert [t["name"] for t in rejections["data"]] == ["insufficient_items"]


def test_report_is_self_contained_with_a_page_per_suspect(economy: Economy, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    page = _report(economy.lake, out)
    html = out.read_text("utf-8")
    assert html.count("<script") == 3 and "<script src" not in html  # plotly.js is inline
    assert hosts_named(page.text_outside_plotly) == set()
    assert all(link.startswith("#") for link in page.links), page.links
    # dave is the value_funnels suspect: a page with his holdings over time, linked from
    # the exploit table; bob and alice (top traders) have theirs.
    dave = economy.ids["dave"]
    assert f"player-{dave}" in page.ids and f'href="#player-{dave}"' in html
    for who in ("alice", "bob"):
        assert f"player-{economy.ids[who]}" in page.ids
    holdings = [s for s in page.charts_named("player_holdings")
                if s["layout"]["title"]["text"].startswith(f"dave (#{dave})")]  # fmt: skip
    assert len(holdings) == 1 and _last(holdings[0], "gold") == economy.dave_gold
    assert "suspect: value_funnels" in html
    # the suspects' evidence as table columns, not raw JSON
    assert (
        "<th>trades</th>" in html and '{"' not in html.split("id=exploits")[1].split("<script")[0]
    )


def test_buckets_follow_the_run_length(economy: Economy, tmp_path: Path) -> None:
    short = _report(economy.lake, tmp_path / "short.html")
    (trades,) = short.charts_named("trades_over_time")
    assert "100 ms buckets" in trades["layout"]["xaxis"]["title"]["text"]
    # The same lake with one more rejected trade three days later: hours, not milliseconds.
    lake = tmp_path / "lake"
    shutil.copytree(economy.lake, lake)
    rejected = DeltaTable(str(lake / "rejected_trades")).to_pyarrow_table()
    later = pc.add(rejected.column("executed_at"), pa.scalar(timedelta(days=3)))
    moved = rejected.set_column(
        rejected.schema.get_field_index("executed_at"), "executed_at", later
    )
    write_deltalake(str(lake / "rejected_trades"), moved, mode="append")
    long = _report(lake, tmp_path / "long.html")
    (trades,) = long.charts_named("trades_over_time")
    assert "2 h buckets" in trades["layout"]["xaxis"]["title"]["text"]
    start, end = (datetime.fromisoformat(t) for t in trades["layout"]["xaxis"]["range"])
    assert timedelta(days=3) < end - start <= timedelta(days=3, hours=4)
    (rejections,) = long.charts_named("rejections_over_time")
    assert len(rejections["data"][0]["x"]) == 2  # two buckets, days apart


def test_report_shows_the_offer_funnel_as_ask_economy_counts_it(
    economy: Economy, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    page = _report(economy.lake, out)
    html = out.read_text("utf-8")
    assert "<a href='#offers'>offer funnel</a>" in html and "offers" in page.ids
    section = html.split("id=offers>")[1].split("<h2")[0]
    assert "5 offers created (counter-offers included); 1 accepted (20.0%)" in section
    # the funnel table: each stage with its count and share of the offers created
    for stage, count, share in (("created", 5, "100%"), ("accepted", 1, "20.0%"),
                                ("declined", 2, "40.0%"), ("countered", 1, "20.0%"),
                                ("expired", 0, "0.0%"), ("open", 1, "20.0%")):  # fmt: skip
        assert f"<td>{stage}</td><td class=n>{count}</td><td>{share}</td>" in section, stage
    (chart,) = page.charts_named("offer_funnel")
    assert dict(zip(chart["data"][0]["y"], chart["data"][0]["x"], strict=True)) == {
        "created": 5, "accepted": 1, "declined": 2, "countered": 1, "cancelled": 0,
        "expired": 0, "failed": 0, "open": 1,
    }  # fmt: skip
    # the same figures `bazaar ask economy` gives
    asked = subprocess.run(
        [sys.executable, "-m", "bazaar", "ask", "economy", "--lake", str(economy.lake),
         "--format", "json"], capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    funnel = json.loads(asked.stdout)["economy"]["offer_funnel"]
    assert funnel == {"created": 5, "accepted": 1, "declined": 2, "countered": 1,
                      "expired": 0, "cancelled": 0, "failed": 0, "open": 1}  # fmt: skip
