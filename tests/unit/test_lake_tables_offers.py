"""The `offers` lake table: one row per offer event, from domain-built events; the column-wise
decoder hands offer events to the strict decoder and lands the same rows."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bazaar.codec import MalformedEvent, encode_event
from bazaar.domain.catalog import Catalog
from bazaar.lake.columnar import decode_batch
from bazaar.lake.event_rows import event_rows
from bazaar.lake.tables import HOLDS, OFFERS, PRIMARY_TABLES, TABLES, as_dicts
from tests.support.documents import offer_events, trade_events, with_changes


def _offer_row(raw: bytes) -> dict[str, Any]:
    out = event_rows(raw, "outbox", 9)
    assert set(out.rows) <= {OFFERS, HOLDS}, "an offer event feeds offers (and escrow) only"
    [row] = as_dicts(OFFERS, out.rows[OFFERS])
    return row


def test_an_accepted_offer_row_says_what_its_event_says(catalog: Catalog) -> None:
    event = offer_events(catalog)["offer_accepted"]
    row = _offer_row(encode_event(event))
    p = event.payload
    one, two = p["player_1"], p["player_2"]
    assert row["offer_id"] == p["offer_id"] and row["trade_id"] == p["trade_id"]
    assert (row["event_type"], row["status"]) == ("offer_accepted", "accepted")
    assert (row["from_player_id"], row["to_player_id"]) == (one["player_id"], two["player_id"])
    assert (row["from_gold"], row["to_gold"]) == (one["gold"], two["gold"])
    assert row["from_items_value"] == sum(x["quantity"] * x["value"] for x in one["items"]) > 0
    assert row["to_items_value"] == 0 and row["to_items"] == "[]"
    assert orjson.loads(row["from_items"]) == one["items"]
    assert row["actor_player_id"] == two["player_id"]
    assert row["reason"] is None and row["detail"] is None
    assert row["expires_at"] - row["created_at"] == 600 * 1_000_000
    assert row["at"] > row["created_at"]
    assert (row["event_id"], row["source"], row["position"]) == (event.event_id, "outbox", 9)
    assert row["event_date"] == event.occurred_at[:10]


def test_failed_created_and_expired_rows_carry_their_own_fields(catalog: Catalog) -> None:
    built = offer_events(catalog)
    failed = _offer_row(encode_event(built["offer_failed"]))
    assert failed["reason"] == "insufficient_gold" and "gives" in failed["detail"]
    assert failed["trade_id"] == built["offer_failed"].payload["trade_id"]
    created = _offer_row(encode_event(built["offer_created"]))
    assert created["status"] == "open" and created["at"] == created["created_at"]
    assert created["actor_player_id"] is None and created["trade_id"] is None
    expired = _offer_row(encode_event(built["offer_expired"]))
    assert expired["status"] == "expired" and expired["actor_player_id"] is None


def test_an_item_no_longer_in_the_catalog_leaves_the_side_value_unknown(catalog: Catalog) -> None:
    doc = orjson.loads(encode_event(offer_events(catalog)["offer_declined"]))
    doc["payload"]["player_1"]["items"][0]["value"] = None
    row = _offer_row(orjson.dumps(doc))
    assert row["from_items_value"] is None and row["to_items_value"] == 0
    assert orjson.loads(row["from_items"])[0]["value"] is None


@pytest.mark.parametrize(
    ("event_type", "path", "value", "error"),
    [
        ("offer_declined", "payload__status", "accepted", "contradicts event_type"),
        ("offer_accepted", "payload__trade_id", None, "trade_id"),
        ("offer_failed", "payload__reason", None, "reason"),
        ("offer_created", "payload__expires_at", "soon", "expires_at"),
        ("offer_created", "payload__player_2__gold", "20", "player_2.gold"),
        ("offer_cancelled", "payload__actor_player_id", "2", "actor_player_id"),
    ],
)
def test_a_malformed_offer_event_is_refused_with_the_field(
    catalog: Catalog, event_type: str, path: str, value: Any, error: str
) -> None:
    doc = orjson.loads(encode_event(offer_events(catalog)[event_type]))
    with pytest.raises(MalformedEvent, match=error):
        event_rows(orjson.dumps(with_changes(doc, **{path: value})), "outbox", 1)


def test_offer_events_take_the_strict_path_and_land_beside_fast_trades(catalog: Catalog) -> None:
    trades = [encode_event(e) for e in trade_events(catalog).values()]
    offers = [encode_event(e) for e in offer_events(catalog).values()]
    raws = [raw for pair in zip(trades * 3, offers, strict=False) for raw in pair]
    n = len(raws)
    sources, positions = ["outbox"] * n, list(range(1, n + 1))
    fast = decode_batch(raws, sources, positions, 0)
    strict = decode_batch(raws, sources, positions, 0, fast=False)
    assert fast.dead_letters == 0
    assert fast.strict_events == len(offers), "the fast path vouches for trades only"
    for table in TABLES:
        assert fast.tables[table].equals(strict.tables[table]), table
    assert fast.tables[HOLDS].num_rows > 0, "offer events' escrow changes land in holds"
    landed = fast.tables[OFFERS].column("event_id").to_pylist()
    assert landed == [orjson.loads(raw)["event_id"] for raw in offers]
    assert OFFERS in PRIMARY_TABLES, "offer event ids feed the duplicate filter's memory"
