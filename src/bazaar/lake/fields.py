"""The strict decoder's field readers: each returns a field of the right type or raises
MalformedEvent naming where (`payload.player_1.gold: expected an integer`). Shared by the
lake's event mappings (tables.py, tables_economy.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bazaar.codec import MalformedEvent
from bazaar.domain.clock import micros

_ONE_US = timedelta(microseconds=1)


def _instant(value: object, where: str) -> tuple[int, str]:
    """(microseconds since the epoch, UTC date) of an ISO-8601 instant with a zone."""
    if not isinstance(value, str):
        raise MalformedEvent(f"{where}: expected an ISO-8601 instant, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedEvent(f"{where}: not an ISO-8601 instant: {value[:40]!r}") from None
    offset = moment.utcoffset()
    if offset is None:
        raise MalformedEvent(f"{where}: instant without a time zone: {value[:40]!r}")
    if offset:
        moment = moment.astimezone(UTC)
    return micros(moment), f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"


def _int(doc: Mapping[str, Any], key: str, where: str) -> int:
    value = doc.get(key)
    if type(value) is not int:  # bool is an int subclass: refuse it too
        raise MalformedEvent(f"{where}.{key}: expected an integer, got {value!r:.40}")
    return value


def _str(doc: Mapping[str, Any], key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(f"{where}.{key}: expected a string, got {value!r:.40}")
    return value


def _obj(doc: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise MalformedEvent(f"{where}.{key}: expected an object")
    return value


def _list(doc: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """A list whose elements the caller checks are objects (`_element`), in the same pass."""
    value = doc.get(key)
    if type(value) is not list:
        raise MalformedEvent(f"{where}.{key}: expected a list of objects")
    return value


def _element(value: object, where: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise MalformedEvent(f"{where}: expected a list of objects")
    return value


def _quantities(lines: list[Any], where: str) -> list[tuple[int, int]]:
    out = []
    for x in lines:
        line = _element(x, where)
        out.append((_int(line, "item_id", where), _int(line, "quantity", where)))
    return out


def _summary(doc: Mapping[str, Any], where: str) -> tuple[int, int, int, int]:
    return (
        _int(doc, "version", where),
        _int(doc, "distinct_items", where),
        _int(doc, "items_value", where),
        _int(doc, "items_held", where),
    )


def _optional(doc: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = doc.get(key)
    if value is not None and type(value) is not kind:
        raise MalformedEvent(f"{where}.{key}: expected {kind.__name__} or null, got {value!r:.40}")
    return value
