"""The event codec and the published contract: what a subscriber to the topic relies on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bazaar.codec import MalformedEvent, decode_document, decode_event, encode_event
from bazaar.domain.catalog import Catalog
from bazaar.domain.events import EVENT_TYPES
from bazaar.store.base import OutboxEntry
from bazaar.stream.contract import check_event, contract_violations, event_schema
from bazaar.stream.kafka import KafkaSettings, message_key, message_value, parse_kafka_config
from tests.support.documents import domain_events, with_changes


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_every_event_type_round_trips_and_conforms_to_its_schema(
    catalog: Catalog, event_type: str
) -> None:
    event = domain_events(catalog)[event_type]
    wire = encode_event(event)
    assert wire == orjson.dumps(orjson.loads(wire)), "compact JSON, no whitespace"
    assert decode_event(wire) == event
    assert contract_violations(decode_document(wire)) == []
    assert event_schema(event_type)["properties"]["event_type"]["const"] == event_type


def test_a_trade_is_one_message_under_one_kilobyte(catalog: Catalog) -> None:
    for event in domain_events(catalog).values():
        assert len(encode_event(event)) < 1024


@pytest.mark.parametrize(
    ("event_type", "path", "value"),
    [
        ("trade_accepted", "headers", {"Authorization": "Bearer x"}),  # request headers
        ("trade_accepted", "payload__player_1__cookie", "session=1"),
        ("trade_accepted", "payload__player_2__gold_after", -1),
        ("trade_rejected", "payload__reason", "because"),
        ("player_created", "occurred_at", "2026-11-29 10:00:00"),  # no zone
        ("player_created", "schema_version", 2),
        ("player_created", "payload__gold", 1.5),  # floats for money
    ],
)
def test_the_contract_refuses_undocumented_or_mistyped_fields(
    catalog: Catalog, event_type: str, path: str, value: Any
) -> None:
    doc = decode_document(encode_event(domain_events(catalog)[event_type]))
    bad = with_changes(doc, **{path: value})
    assert contract_violations(bad)
    with pytest.raises(MalformedEvent):
        check_event(bad)


def test_missing_fields_and_unknown_types_are_violations(catalog: Catalog) -> None:
    doc = decode_document(encode_event(domain_events(catalog)["trade_accepted"]))
    del doc["payload"]["player_2"]
    assert any("player_2" in problem for problem in contract_violations(doc))
    assert contract_violations({"event_type": "gold_printed"}) == [
        "unknown event_type 'gold_printed'"
    ]


@pytest.mark.parametrize("wire", [b"not json", b"[1, 2]", b'{"event_id": "x"}'])
def test_garbage_on_the_wire_is_a_malformed_event(wire: bytes) -> None:
    with pytest.raises(MalformedEvent):
        decode_event(wire)


def test_the_message_is_the_outbox_body_keyed_by_player(catalog: Catalog) -> None:
    event = domain_events(catalog)["trade_accepted"]
    entry = OutboxEntry(
        7, event.event_id, event.event_type, event.occurred_at, event.key, encode_event(event)
    )
    assert message_value(entry) == entry.body
    assert message_key(entry) == b"1", "trades are keyed by player_1"


def test_kafka_config_passthrough_keeps_the_delivery_guarantee() -> None:
    extra = parse_kafka_config(["security.protocol=SASL_SSL", "sasl.password=a=b"])
    assert extra == {"security.protocol": "SASL_SSL", "sasl.password": "a=b"}
    config = KafkaSettings("broker:9093", extra=extra).producer_config()
    assert config["enable.idempotence"] is True and config["acks"] == "all"
    assert config["security.protocol"] == "SASL_SSL"
    for weakening in (["acks=1"], ["enable.idempotence=false"], ["nonsense"]):
        with pytest.raises(ValueError):
            parse_kafka_config(weakening)
