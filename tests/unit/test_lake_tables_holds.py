"""The `holds` lake table: one row per escrow change an offer event records (held on
creation, released by every ending but an accept, moved by an accept), from domain-built
events; both decoders land the same rows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bazaar.codec import MalformedEvent, encode_event
from bazaar.domain.catalog import Catalog
from bazaar.lake.columnar import decode_batch
from bazaar.lake.event_rows import event_rows
from bazaar.lake.tables import HOLDS, as_dicts
from tests.support.documents import offer_events, trade_events, with_changes

_RELEASING = ("offer_declined", "offer_cancelled", "offer_expired", "offer_countered")


def _holds(raw: bytes, position: int = 4) -> list[dict[str, Any]]:
    return as_dicts(HOLDS, event_rows(raw, "outbox", position).rows.get(HOLDS, []))


def _net(rows: list[dict[str, Any]]) -> dict[int, int]:
    net: dict[int, int] = {}
    for row in rows:
        net[row["item_id"]] = net.get(row["item_id"], 0) + row["quantity"]
    return {k: v for k, v in net.items() if v}


def test_creating_an_offer_holds_its_creators_gives_as_gold_and_item_rows(
    catalog: Catalog,
) -> None:
    event = offer_events(catalog)["offer_created"]
    rows = _holds(encode_event(event))
    one = event.payload["player_1"]
    gold = [r for r in rows if r["item_id"] == 0]
    items = [r for r in rows if r["item_id"] != 0]
    assert [(r["quantity"], r["value"]) for r in gold] == [(one["gold"], one["gold"])] == [(5, 5)]
    assert [(r["item_id"], r["quantity"], r["value"]) for r in items] == [
        (x["item_id"], x["quantity"], x["quantity"] * x["value"]) for x in one["items"]
    ]
    for row in rows:
        assert (row["change"], row["reason"]) == ("held", "offer_created")
        assert (row["offer_id"], row["player_id"]) == (event.payload["offer_id"], one["player_id"])
        assert (row["event_id"], row["source"], row["position"]) == (event.event_id, "outbox", 4)
        assert row["event_date"] == event.occurred_at[:10]


@pytest.mark.parametrize("ending", [*_RELEASING, "offer_accepted"])
def test_every_ending_takes_back_exactly_what_was_held(catalog: Catalog, ending: str) -> None:
    built = offer_events(catalog)
    held = _holds(encode_event(built["offer_created"]))
    ended = _holds(encode_event(built[ending]))
    change = "moved" if ending == "offer_accepted" else "released"
    assert {(r["change"], r["reason"]) for r in ended} == {(change, ending)}
    assert all(r["quantity"] < 0 and r["value"] < 0 for r in ended)
    assert _net(held) and _net(held + ended) == {}, "an ended offer holds nothing"
    assert sum(r["value"] for r in held + ended) == 0


def test_an_accept_written_before_moved_existed_moves_the_creators_gives(
    catalog: Catalog,
) -> None:
    event = offer_events(catalog)["offer_accepted"]
    doc = orjson.loads(encode_event(event))
    assert doc["payload"]["moved"]["gold"] == 5, "the accept says what it moved"
    del doc["payload"]["moved"]
    assert _holds(orjson.dumps(doc)) == _holds(encode_event(event))


def test_offers_from_before_escrow_change_no_escrow(catalog: Catalog) -> None:
    built = offer_events(catalog)
    created = orjson.loads(encode_event(built["offer_created"]))
    del created["payload"]["held"]
    assert _holds(orjson.dumps(created)) == []
    declined = orjson.loads(encode_event(built["offer_declined"]))
    declined["payload"]["released"] = {"gold": 0, "items": []}
    assert _holds(orjson.dumps(declined)) == []


def test_an_item_no_longer_in_the_catalog_leaves_its_value_unknown(catalog: Catalog) -> None:
    doc = orjson.loads(encode_event(offer_events(catalog)["offer_expired"]))
    doc["payload"]["player_1"]["items"][0]["value"] = None
    [gold, item] = _holds(orjson.dumps(doc))
    assert (gold["item_id"], gold["value"]) == (0, -5)
    assert item["value"] is None and item["quantity"] == -3


@pytest.mark.parametrize(
    ("event_type", "path", "value", "error"),
    [
        ("offer_created", "payload__held__gold", "5", "held.gold"),
        ("offer_cancelled", "payload__released__items", {"item_id": 1}, "released.items"),
        ("offer_accepted", "payload__moved", [], "moved"),
    ],
)
def test_a_malformed_escrow_change_is_refused_with_the_field(
    catalog: Catalog, event_type: str, path: str, value: Any, error: str
) -> None:
    doc = orjson.loads(encode_event(offer_events(catalog)[event_type]))
    with pytest.raises(MalformedEvent, match=error):
        event_rows(orjson.dumps(with_changes(doc, **{path: value})), "outbox", 1)


def test_both_decoders_land_the_same_holds_in_batch_order(catalog: Catalog) -> None:
    offers = [encode_event(e) for e in offer_events(catalog).values()]
    trades = [encode_event(e) for e in trade_events(catalog).values()]
    raws = [*trades, *offers, *trades]
    n = len(raws)
    fast = decode_batch(raws, ["outbox"] * n, list(range(1, n + 1)), 0)
    strict = decode_batch(raws, ["outbox"] * n, list(range(1, n + 1)), 0, fast=False)
    assert fast.tables[HOLDS].equals(strict.tables[HOLDS])
    positions = fast.tables[HOLDS].column("position").to_pylist()
    assert positions == sorted(positions) and len(set(positions)) == len(offers)
