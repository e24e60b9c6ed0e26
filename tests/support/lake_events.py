"""Event documents as the stores write them, varied by a number: one player created, one
trade accepted or rejected per n, for the lake's decoders and writer."""

from __future__ import annotations

from typing import Any

import orjson


def _instant(n: int) -> str:
    return f"2026-11-29T10:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}Z"


def created(n: int) -> dict[str, Any]:
    items = [{"item_id": i, "quantity": 10 * i + n} for i in range(1, n % 3 + 1)]
    return {
        "event_id": f"c-{n}", "event_type": "player_created", "schema_version": 1,
        "occurred_at": _instant(n),
        "payload": {
            "player_id": n, "username": f"alchemist-{n}", "player_class": "alchemist",
            "gold": 1000 + n, "capacity": 999, "items": items, "version": 1,
            "distinct_items": len(items), "items_value": 7 * n, "items_held": 3 * n,
        },
    }  # fmt: skip


def _side(player: int, n: int, gives: int) -> dict[str, Any]:
    return {
        "player_id": player, "gold": n % 7,
        "items": [{"item_id": i, "quantity": i + 1, "value": 100 * i} for i in range(gives)],
        "gold_after": 50 + n, "version": 2 + n, "distinct_items": 2, "items_value": 9,
        "items_held": 11, "items_after": [{"item_id": 4, "quantity": n}, {"item_id": 5,
        "quantity": 1}][: n % 3],
    }  # fmt: skip


def accepted(n: int) -> dict[str, Any]:
    return {
        "event_id": f"a-{n}", "event_type": "trade_accepted", "schema_version": 1,
        "occurred_at": _instant(n),
        "payload": {
            "trade_id": n, "player_1": _side(n, n, n % 3), "player_2": _side(n + 1, n, n % 2),
        },
    }  # fmt: skip


def rejected(n: int) -> dict[str, Any]:
    return {
        "event_id": f"r-{n}", "event_type": "trade_rejected", "schema_version": 1,
        "occurred_at": _instant(n),
        "payload": {
            "trade_id": n, "reason": "insufficient_gold",
            "detail": None if n % 2 else f"player_1: has {n} gold",
            "player_1": {"player_id": n, "gold": n, "items": []},
            "player_2": {"player_id": n + 2, "gold": 0, "items": [
                {"item_id": 8, "quantity": 5, "value": 5}]},
        },
    }  # fmt: skip


def dumps(doc: dict[str, Any], **options: Any) -> bytes:
    return orjson.dumps(doc, **options)
