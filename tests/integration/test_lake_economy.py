"""The economy reaches the lake: grants, consumptions and trade fees land in their tables
through `bazaar ingest` from a real store, nothing is dead-lettered, and the conservation
audit (creations + grants - consumptions - fees) says "conserved" after a run with all of
them, escrowed offers, counters and expiries included, and catches a forged duplication;
`bazaar ask economy` reports the flows, the money supply, the offer funnel and what escrow
holds now and over time (the `holds` table: held, released, moved)."""

from __future__ import annotations

import time
from pathlib import Path

from bazaar.analytics.engines import open_engine
from bazaar.analytics.questions import ask
from bazaar.domain.catalog import load_catalog
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, Actor, OfferAction
from bazaar.spark.session import stop_spark
from bazaar.store.sqlite import SQLiteStore
from tests.integration.test_lake_ingest import ingest, read_table
from tests.support.lake_builder import forge_rows
from tests.support.offers import FOOD, MILK, farmers, food_for_gold

GRANT, CONSUMPTION = AdjustmentKind.GRANT, AdjustmentKind.CONSUMPTION


def _economy_run(store: SQLiteStore) -> None:
    a, b, c = farmers(store, 3)
    store.trade_fee_bps = 500  # 5 %
    store.adjust(Adjustment(GRANT, a, (ItemLine(MILK, 40),), 300, "quest_reward"))
    store.adjust(Adjustment(GRANT, b, (), 120, "loot"))
    store.adjust(Adjustment(CONSUMPTION, c, (ItemLine(FOOD, 50),), 75, "repair"))
    store.execute_trade(TradeRequest(TradeSide(a, gold=200), TradeSide(b, (ItemLine(FOOD, 4),))))
    offer = store.create_offer(food_for_gold(a, b, food=6, gold=100), 600)
    counter = store.counter_offer(
        offer.offer_id,
        TradeRequest(TradeSide(b, gold=80), TradeSide(a, (ItemLine(FOOD, 6),))), 600, Actor(b),
    )  # fmt: skip
    store.act_on_offer(counter.counter.offer_id, OfferAction.ACCEPT, Actor(a))
    declined = store.create_offer(food_for_gold(c, a, food=9), 600)
    store.act_on_offer(declined.offer_id, OfferAction.CANCEL, SERVER)
    store.create_offer(food_for_gold(b, c, food=2), 1)
    store.create_offer(food_for_gold(c, b, food=3), 600)  # stays open, its food held
    time.sleep(1.05)
    assert store.expire_due_offers() == 1


def test_the_audit_counts_faucets_and_sinks_and_catches_a_forged_duplication(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bazaar.db"
    store = SQLiteStore(db, load_catalog())
    _economy_run(store)
    lake = tmp_path / "lake"
    assert ingest(f"sqlite:///{db}", lake) == 0
    if (lake / "dead_letters").exists():
        assert read_table(lake, "dead_letters").num_rows == 0
    adjustments = read_table(lake, "adjustments").to_pylist()
    assert sorted((r["kind"], r["reason"], r["gold"]) for r in adjustments) == [
        ("consumption", "repair", 75), ("grant", "loot", 120), ("grant", "quest_reward", 300),
    ]  # fmt: skip
    items = read_table(lake, "adjustment_items").to_pylist()
    assert sorted((r["kind"], r["item_id"], r["quantity"]) for r in items) == [
        ("consumption", FOOD, 50), ("grant", MILK, 40),
    ]  # fmt: skip
    fees = read_table(lake, "trade_fees").to_pylist()
    assert sorted(r["fee"] for r in fees) == [4, 10], "5 % of 80 and of 200"
    causes = {r["cause"] for r in read_table(lake, "player_states").to_pylist()}
    assert {"grant", "consumption"} <= causes
    holds = read_table(lake, "holds").to_pylist()
    changes = sorted((r["reason"], r["change"], r["item_id"], r["quantity"]) for r in holds)
    assert changes == [
        ("offer_accepted", "moved", 0, -80),  # the counter-offer's gold went with its trade
        ("offer_cancelled", "released", FOOD, -9),
        ("offer_countered", "released", FOOD, -6),
        ("offer_created", "held", 0, 80),
        ("offer_created", "held", FOOD, 2),
        ("offer_created", "held", FOOD, 3),
        ("offer_created", "held", FOOD, 6),
        ("offer_created", "held", FOOD, 9),
        ("offer_expired", "released", FOOD, -2),
    ]
    assert {r["source"] for r in holds} == {"outbox"} and all(r["position"] > 0 for r in holds)

    engine = open_engine("duckdb", str(lake))
    try:
        answers = ask(engine, ["exploits", "economy"])
    finally:
        engine.close()
    audit = answers["exploits"]["conservation"]
    assert audit["conserved"] is True, audit["items"]
    spark = open_engine("spark", str(lake), spark_master="local[2]")
    try:
        assert ask(spark, ["economy"])["economy"] == answers["economy"], "DuckDB = Spark"
    finally:
        spark.close()
        stop_spark()
    economy = answers["economy"]
    flows = {(f["flow"], f["direction"]): f["gold"] for f in economy["flows"]}
    assert flows == {
        ("player creation", "faucet"): 1500,
        ("grant: quest_reward", "faucet"): 300,
        ("grant: loot", "faucet"): 120,
        ("consumption: repair", "sink"): -75,
        ("trade fee", "sink"): -14,
    }
    supply = economy["money_supply"]
    assert (supply["supply"], supply["inflation_pct"]) == (1831, 22.07)
    assert supply["over_time"][-1]["gold_supply"] == 1831
    assert economy["offer_funnel"] == {
        "created": 5, "accepted": 1, "declined": 0, "countered": 1, "expired": 1,
        "cancelled": 1, "failed": 0, "open": 1,
    }  # fmt: skip
    food_value = load_catalog().items[FOOD].value
    escrow = economy["escrow"]
    over_time = escrow.pop("over_time")
    assert escrow == {
        "gold": 0, "item_units": 3, "items_value": 3 * food_value, "value": 3 * food_value,
        "offers_holding": 1,
    }, "only the open offer's 3 food are held"  # fmt: skip
    assert over_time[-1]["value"] == 3 * food_value
    assert all(point["gold"] >= 0 and point["items_value"] >= 0 for point in over_time)
    gold = next(r for r in audit["items"] if r["item_id"] == 0)
    assert gold["created"] == 1500 + 300 + 120 - 75 - 14 == gold["held"]

    last = max(
        (r for r in read_table(lake, "holdings").to_pylist() if r["item_id"] == MILK),
        key=lambda r: (r["at"], r["version"]),
    )
    at_us = int(last["at"].timestamp() * 1_000_000) + 1
    forged = (last["player_id"], MILK, last["quantity"] + 40, last["version"] + 1, at_us,
              "forged", last["event_date"])  # fmt: skip
    forge_rows(lake, "holdings", [forged])
    engine = open_engine("duckdb", str(lake))
    try:
        caught = ask(engine, ["exploits"])["exploits"]["conservation"]
    finally:
        engine.close()
    assert caught["conserved"] is False
    assert {r["item_id"]: r["drift"] for r in caught["items"] if r["drift"]} == {MILK: 40}
    assert [s["player_id"] for s in caught["suspects"]] == [last["player_id"]]
