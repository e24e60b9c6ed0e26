"""Event <-> Kafka message. One message per event; the value is the event envelope as
compact JSON, byte for byte what the store wrote to its outbox (`OutboxEntry.body`), so the
relay never re-encodes and what was committed is exactly what is published.

The message key is the id of the player whose order the event belongs to (`Event.key`:
the player for player_created, player_1 for trades). Kafka keeps order within a partition
and a key always maps to one partition, so every event keyed by one player is consumed in
the order it was committed. No headers: everything a consumer needs is in the value.
"""

from __future__ import annotations

from typing import Any

import orjson

from bazaar.domain.errors import MalformedEvent
from bazaar.domain.events import Event
from bazaar.store.base import OutboxEntry


def encode_event(event: Event) -> bytes:
    """The compact JSON envelope (the same bytes the stores put in the outbox)."""
    return orjson.dumps(event.to_document())


def decode_document(value: bytes) -> dict[str, Any]:
    """The envelope as a dict, for consumers that work on documents (ingest, validation)."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"event is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise MalformedEvent("event is not a JSON object")
    return doc


def decode_event(value: bytes) -> Event:
    doc = decode_document(value)
    try:
        return Event.from_document(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"event envelope lacks or mistypes a field: {exc}") from exc


def message_key(entry: OutboxEntry) -> bytes:
    return entry.key.encode()


def message_value(entry: OutboxEntry) -> bytes:
    return bytes(entry.body)
