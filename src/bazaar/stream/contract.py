"""The published event contract: one JSON Schema per event type, shipped as package data
(`bazaar/schemas/<event_type>.json`) and documented in docs/EVENTS.md.

The schemas are closed (`additionalProperties: false`): a field the producer adds without
documenting it fails validation in our tests, which is how request headers or client input
would be caught leaking into events. Consumers, on their side, should ignore fields they
do not know, so adding a documented optional field stays compatible within one
schema_version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from bazaar.domain.errors import MalformedEvent
from bazaar.domain.events import EVENT_TYPES


@cache
def event_schema(event_type: str) -> dict[str, Any]:
    if event_type not in EVENT_TYPES:
        raise MalformedEvent(f"unknown event_type {event_type!r}")
    text = resources.files("bazaar").joinpath("schemas", f"{event_type}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator(event_type: str) -> Any:
    from jsonschema import Draft202012Validator

    schema = event_schema(event_type)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def contract_violations(doc: Mapping[str, Any]) -> list[str]:
    """Every way `doc` breaks its event type's schema (empty when it conforms)."""
    event_type = doc.get("event_type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return [f"unknown event_type {event_type!r}"]
    errors = _validator(event_type).iter_errors(dict(doc))
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]


def check_event(doc: Mapping[str, Any]) -> None:
    """Raise MalformedEvent when `doc` does not conform to the published contract."""
    problems = contract_violations(doc)
    if problems:
        raise MalformedEvent("; ".join(problems[:5]))
