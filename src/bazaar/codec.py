"""The event codec: an event envelope <-> the bytes every process sees.

The bytes are compact JSON in the envelope's key order (`domain/events.py`), written once by
the store into its outbox in the same atomic step as the state change, then carried
unchanged: the relay publishes them as the Kafka message value and the lake decodes them
from the outbox or the topic. So what was committed is byte for byte what is published and
ingested. Encoders: both stores (SQLite through this module; Redis' offer steps through it,
and its trade and player scripts in Lua for atomicity, pinned to it by
tests/integration/test_redis_store.py). Decoders: the lake's strict decoder (lake/event_rows.py)
and `decode_event`, both refusing with the one error, `MalformedEvent`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bazaar.domain.errors import MalformedEvent as MalformedEvent  # the codec's one error
from bazaar.domain.events import Event, envelope


def encode_envelope(
    event_id: str, event_type: str, occurred_at: str, payload: Mapping[str, Any]
) -> bytes:
    """The bytes of an event given by its parts (a store's trade path builds no Event)."""
    return orjson.dumps(envelope(event_id, event_type, occurred_at, payload))


def encode_event(event: Event) -> bytes:
    """The bytes of an event: what the outbox holds, Kafka carries and the lake reads."""
    return orjson.dumps(event.to_document())


def decode_document(raw: bytes) -> dict[str, Any]:
    """The envelope as a dict (fields unchecked: see `decode_event` and the lake's
    `event_rows`), or MalformedEvent."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise MalformedEvent("envelope: expected a JSON object")
    return doc


def decode_event(raw: bytes) -> Event:
    doc = decode_document(raw)
    try:
        return Event.from_document(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise MalformedEvent(f"envelope: lacks or mistypes a field: {exc}") from exc
