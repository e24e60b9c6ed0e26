"""Totals a user would check: how much gold and how many of each item exist."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from bazaar.domain.catalog import Catalog
from bazaar.store.base import Store


def holdings(store: Store) -> tuple[int, Counter[int]]:
    gold = 0
    items: Counter[int] = Counter()
    for state in store.players():
        gold += state.gold
        items.update(state.items)
    return gold, items


def supply(catalog: Catalog, store: Store) -> tuple[int, Counter[int]]:
    """What must exist: creations + grants - consumptions - trade fees, per item and for
    gold (player creation from the catalog; the rest from the store's outbox)."""
    gold = 0
    items: Counter[int] = Counter()
    for state in store.players():
        pc = catalog.classes[state.player_class]
        gold += pc.gold
        items.update(dict(pc.items))
    for event in outbox_events(store):
        kind, payload = event["event_type"], event["payload"]
        sign = {"goods_granted": 1, "goods_consumed": -1}.get(kind)
        if sign is not None:
            gold += sign * payload["gold"]
            for line in payload["items"]:
                items[line["item_id"]] += sign * line["quantity"]
        elif kind == "trade_accepted":
            gold -= payload["player_1"].get("fee", 0) + payload["player_2"].get("fee", 0)
    return gold, +items


def outbox_events(store: Store) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while batch := store.read_outbox(after=after, limit=5000):
        events.extend(orjson.loads(e.body) for e in batch)
        after = batch[-1].seq
    return events
