"""Offer events and the published contract: every offer event the domain builds conforms to
its closed JSON Schema, and the schemas refuse what the domain never writes."""

from __future__ import annotations

from typing import Any

import pytest

from bazaar.codec import MalformedEvent, decode_document, encode_event
from bazaar.domain import events as domain_events
from bazaar.domain.catalog import Catalog
from bazaar.stream.contract import check_event, contract_violations, event_schema
from tests.support.documents import ADDRESSEE, counter_offer_event, offer_events, with_changes


def _doc(catalog: Catalog, event_type: str) -> dict[str, Any]:
    return decode_document(encode_event(offer_events(catalog)[event_type]))


def test_the_contract_lists_exactly_the_offer_events_the_domain_builds(catalog: Catalog) -> None:
    assert set(domain_events.OFFER_EVENT_TYPES) <= set(domain_events.EVENT_TYPES)
    built = offer_events(catalog)
    assert {e.event_type for e in built.values()} == set(domain_events.OFFER_EVENT_TYPES)
    assert all(kind == event.event_type for kind, event in built.items())


@pytest.mark.parametrize("event_type", domain_events.OFFER_EVENT_TYPES)
def test_every_offer_event_conforms_to_its_closed_schema(catalog: Catalog, event_type: str) -> None:
    doc = _doc(catalog, event_type)
    assert contract_violations(doc) == []
    schema = event_schema(event_type)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["payload"]["additionalProperties"] is False
    # Every payload field the domain writes is declared, and every required one written;
    # the only optional one written is `moved`, added after the accepts that lack it.
    payload = schema["properties"]["payload"]
    written = set(doc["payload"]) - ({"moved"} if event_type == "offer_accepted" else set())
    assert written == set(payload["required"]) <= set(payload["properties"])
    assert set(doc["payload"]) <= set(payload["properties"])


def test_a_player_acting_and_a_server_key_acting_both_conform(catalog: Catalog) -> None:
    built = offer_events(catalog)
    assert built["offer_declined"].payload["actor_player_id"] == ADDRESSEE
    assert built["offer_cancelled"].payload["actor_player_id"] is None  # the server
    assert built["offer_expired"].payload["actor_player_id"] is None
    for event in built.values():
        assert contract_violations(decode_document(encode_event(event))) == []


@pytest.mark.parametrize(
    ("event_type", "path", "value"),
    [
        ("offer_created", "payload__status", "accepted"),  # status must match the type
        ("offer_created", "payload__trade_id", 3),  # no trade on a new offer
        ("offer_created", "payload__actor_player_id", 2),
        ("offer_created", "payload__player_1__token", "secret"),  # credentials leak
        ("offer_created", "payload__expires_at", "in ten minutes"),
        ("offer_accepted", "payload__player_2__gold", -5),
        ("offer_expired", "payload__actor_player_id", 2),  # expiry is by no one
        ("offer_failed", "payload__reason", "because"),
        ("offer_declined", "payload__offer_id", "7"),
    ],
)
def test_the_offer_contract_refuses_what_the_domain_never_writes(
    catalog: Catalog, event_type: str, path: str, value: Any
) -> None:
    doc = with_changes(_doc(catalog, event_type), **{path: value})
    assert contract_violations(doc)
    with pytest.raises(MalformedEvent):
        check_event(doc)


@pytest.mark.parametrize(
    ("event_type", "field"),
    [("offer_accepted", "trade_id"), ("offer_failed", "reason"), ("offer_declined", "status")],
)
def test_missing_offer_fields_are_violations(catalog: Catalog, event_type: str, field: str) -> None:
    doc = _doc(catalog, event_type)
    del doc["payload"][field]
    assert any(field in problem for problem in contract_violations(doc))


def test_an_accept_written_before_moved_existed_still_conforms(catalog: Catalog) -> None:
    doc = _doc(catalog, "offer_accepted")
    del doc["payload"]["moved"]
    assert contract_violations(doc) == []


def test_escrow_is_in_the_offer_events(catalog: Catalog) -> None:
    built = offer_events(catalog)
    gives = built["offer_created"].payload["player_1"]
    held = built["offer_created"].payload["held"]
    assert held["gold"] == gives["gold"]
    assert held["items"] == [
        {"item_id": i["item_id"], "quantity": i["quantity"]} for i in gives["items"]
    ]
    for ending in ("offer_declined", "offer_cancelled", "offer_expired", "offer_countered"):
        assert built[ending].payload["released"] == held, ending
    assert "released" not in built["offer_accepted"].payload, "accepted goods moved"
    assert built["offer_accepted"].payload["moved"] == held
    assert built["offer_countered"].payload["countered_by"] == 9


def test_a_counter_offer_names_the_offer_it_answers(catalog: Catalog) -> None:
    doc = decode_document(encode_event(counter_offer_event(catalog)))
    assert doc["payload"]["counter_of"] == 7
    assert contract_violations(doc) == []
    assert contract_violations(with_changes(doc, payload__counter_of=0))
