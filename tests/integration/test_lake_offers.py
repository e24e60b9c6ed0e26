"""Trade offers reach the lake: every offer event of a real SQLite store lands once in
`offers` through `bazaar ingest`, the trades offers ran land in `trades` / `rejected_trades`,
nothing is dead-lettered, and a lake made before `offers` existed gains the table's history
on its next run without doubling anything else."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from bazaar.domain.catalog import load_catalog
from bazaar.domain.errors import OfferNotOpen
from bazaar.domain.events import OFFER_EVENT_TYPES
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, Actor, OfferAction, OfferStatus
from bazaar.lake.follower import lake_position
from bazaar.lake.tables import HOLDS, OFFERS, PRIMARY_TABLES
from bazaar.lake.writer import LakeWriter
from bazaar.store.base import Store
from bazaar.store.sqlite import SQLiteStore
from bazaar.stream.contract import contract_violations
from tests.integration.test_lake_ingest import Trader, ingest, outbox, read_table
from tests.support.offers import MILK, farmers, food_for_gold

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def make_offers(store: Store) -> None:
    """Every offer outcome at least once: accepted, declined, cancelled (by the creator and
    by a server key), expired, failed, countered; some offers still open."""
    a, b, c = farmers(store, 3)
    act = store.act_on_offer
    accepted = store.create_offer(food_for_gold(a, b), 600)
    assert act(accepted.offer_id, OfferAction.ACCEPT, Actor(b)).offer.status is OfferStatus.ACCEPTED
    declined = store.create_offer(food_for_gold(b, c, food=1, gold=0), 600)
    act(declined.offer_id, OfferAction.DECLINE, Actor(c))
    for actor in (Actor(a), SERVER):
        cancelled = store.create_offer(food_for_gold(a, c), 600)
        act(cancelled.offer_id, OfferAction.CANCEL, actor)
    milk_for_gold = TradeRequest(TradeSide(c, (ItemLine(MILK, 2),)), TradeSide(a, gold=450))
    failing = store.create_offer(milk_for_gold, 600)
    store.execute_trade(TradeRequest(TradeSide(a, gold=100), TradeSide(b, gold=0)))
    assert act(failing.offer_id, OfferAction.ACCEPT, Actor(a)).offer.status is OfferStatus.FAILED
    answered = store.create_offer(food_for_gold(b, c, food=2, gold=5), 600)
    counter = TradeRequest(TradeSide(c, gold=4), TradeSide(b, (ItemLine(MILK, 1),)))
    store.counter_offer(answered.offer_id, counter, 600, Actor(c))  # stays open
    store.create_offer(food_for_gold(c, a), 600)  # stays open
    expiring = store.create_offer(food_for_gold(b, a), 1)
    time.sleep(1.05)
    with pytest.raises(OfferNotOpen):
        act(expiring.offer_id, OfferAction.ACCEPT, Actor(a))


def _us(instant: str) -> int:
    return (datetime.fromisoformat(instant) - EPOCH) // timedelta(microseconds=1)


def expected_offer_row(doc: dict[str, Any]) -> dict[str, Any]:
    """The `offers` row LAKE.md promises for one offer event (timestamps as microseconds)."""
    p = doc["payload"]
    one, two = p["player_1"], p["player_2"]
    return {
        "offer_id": p["offer_id"],
        "event_type": doc["event_type"],
        "status": p["status"],
        "at": _us(doc["occurred_at"]),
        "created_at": _us(p["created_at"]),
        "expires_at": _us(p["expires_at"]),
        "from_player_id": one["player_id"],
        "to_player_id": two["player_id"],
        "from_gold": one["gold"],
        "to_gold": two["gold"],
        "from_items_value": sum(x["quantity"] * x["value"] for x in one["items"]),
        "to_items_value": sum(x["quantity"] * x["value"] for x in two["items"]),
        "from_items": one["items"],
        "to_items": two["items"],
        "actor_player_id": p.get("actor_player_id"),
        "trade_id": p.get("trade_id"),
        "reason": p.get("reason"),
        "detail": p.get("detail"),
        "event_id": doc["event_id"],
        "event_date": doc["occurred_at"][:10],
        "source": "outbox",
    }


def offer_rows(lake: Path) -> list[dict[str, Any]]:
    rows = []
    for row in read_table(lake, OFFERS).to_pylist():
        for column in ("at", "created_at", "expires_at"):
            row[column] = _us(row[column].isoformat())
        for column in ("from_items", "to_items"):
            row[column] = orjson.loads(row[column])
        del row["position"]
        rows.append(row)
    return sorted(rows, key=lambda r: r["at"])


def expected_holds(offers: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The `holds` rows LAKE.md promises: (offer, item (0: gold), signed quantity, change,
    reason, event id) for every gold amount and item line an offer event held, released or
    moved."""
    rows = []
    for doc in offers:
        p, kind = doc["payload"], doc["event_type"]
        key = {"offer_created": "held", "offer_accepted": "moved"}.get(kind, "released")
        sign = 1 if key == "held" else -1
        lines = [(0, p[key]["gold"])] if p[key]["gold"] else []
        lines += [(x["item_id"], x["quantity"]) for x in p[key]["items"]]
        rows += [(p["offer_id"], i, sign * q, key, kind, doc["event_id"]) for i, q in lines]
    return sorted(rows)


def assert_lake_holds_every_event_once(lake: Path, docs: list[dict[str, Any]]) -> None:
    offers = [d for d in docs if d["event_type"] in OFFER_EVENT_TYPES]
    assert offer_rows(lake) == [expected_offer_row(d) for d in offers]
    holds = read_table(lake, HOLDS).to_pylist()
    landed_holds = sorted(
        (r["offer_id"], r["item_id"], r["quantity"], r["change"], r["reason"], r["event_id"])
        for r in holds
    )
    assert landed_holds == expected_holds(offers), "every escrow change exactly once"
    landed: list[str] = []
    for table in PRIMARY_TABLES:
        landed += read_table(lake, table).column("event_id").to_pylist()
    assert sorted(landed) == sorted(d["event_id"] for d in docs), "every event exactly once"
    assert read_table(lake, "dead_letters").num_rows == 0


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "bazaar.db", load_catalog())
    with store:
        yield store


def test_every_store_writes_offer_events_that_conform_to_the_contract(store: Store) -> None:
    make_offers(store)
    docs = outbox(store)
    assert set(OFFER_EVENT_TYPES) <= {d["event_type"] for d in docs}
    assert [(d["event_type"], contract_violations(d)) for d in docs if contract_violations(d)] == []


def test_every_offer_event_lands_in_offers_and_its_trade_in_trades(
    sqlite_store: SQLiteStore, tmp_path: Path
) -> None:
    store = sqlite_store
    lake, url = tmp_path / "lake", f"sqlite:///{store.path}"
    make_offers(store)
    assert ingest(url, lake) == 0
    docs = outbox(store)
    assert set(OFFER_EVENT_TYPES) <= {d["event_type"] for d in docs}, "every outcome made"
    assert_lake_holds_every_event_once(lake, docs)
    assert lake_position(lake) == store.outbox_head()

    rows = read_table(lake, OFFERS).to_pylist()
    accepted = next(r for r in rows if r["status"] == "accepted")
    trades = {t["trade_id"]: t for t in read_table(lake, "trades").to_pylist()}
    trade = trades[accepted["trade_id"]]
    assert (trade["player_1_id"], trade["player_2_id"]) == (
        accepted["from_player_id"],
        accepted["to_player_id"],
    )
    assert trade["player_1_items_value"] == accepted["from_items_value"]
    failed = next(r for r in rows if r["status"] == "failed")
    rejected = {t["trade_id"]: t for t in read_table(lake, "rejected_trades").to_pylist()}
    assert rejected[failed["trade_id"]]["reason"] == failed["reason"] == "insufficient_gold"
    by_offer = Counter(r["offer_id"] for r in rows)
    assert sorted(by_offer.values()) == [1, 1, 2, 2, 2, 2, 2, 2, 2], "open offer: one event"

    # Running again lands nothing more.
    assert ingest(url, lake) == 0
    assert_lake_holds_every_event_once(lake, docs)


@pytest.mark.parametrize("added", [OFFERS, HOLDS])
def test_a_lake_from_before_offers_gains_their_history_without_doubling_the_rest(
    sqlite_store: SQLiteStore, tmp_path: Path, added: str
) -> None:
    """A lake written before the `offers` (or the `holds`) table existed resumes from the
    start of the source for that table alone: every other table already holds those
    positions and takes nothing, the new one takes every offer event (escrow change),
    including those from before it existed."""
    store = sqlite_store
    lake, url = tmp_path / "lake", f"sqlite:///{store.path}"
    Trader(store, players=6).trade(200)
    make_offers(store)
    assert ingest(url, lake) == 0
    shutil.rmtree(lake / added)  # the layout of a lake from before that table
    before = {t: read_table(lake, t).num_rows for t in ("trades", "player_states", "holdings")}
    assert lake_position(lake) == 0, "the lake does not hold offer events yet"

    with LakeWriter(lake) as writer:
        versions = writer.table_versions("outbox")
        assert versions[added] is None
        assert {v for t, v in versions.items() if t != added} == {store.outbox_head()}
        assert writer.resume_position("outbox") is None, "replay the source for offers"
    after = {t: read_table(lake, t).num_rows for t in before}
    assert after == before

    make_offers(store)  # more offers, and their trades, after the upgrade
    assert ingest(url, lake) == 0
    assert_lake_holds_every_event_once(lake, outbox(store))
    assert lake_position(lake) == store.outbox_head()
