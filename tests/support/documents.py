"""Event documents with a few fields changed, for decoder tests (valid and broken variants)."""

from __future__ import annotations

from typing import Any

import orjson


def with_changes(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of `doc` with each change applied; `payload__player_1__gold=5` sets
    doc["payload"]["player_1"]["gold"]."""
    doc = orjson.loads(orjson.dumps(doc))
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return doc
