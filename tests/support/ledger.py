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
    """What player creation put into the economy (the only source of supply)."""
    gold = 0
    items: Counter[int] = Counter()
    for state in store.players():
        pc = catalog.classes[state.player_class]
        gold += pc.gold
        items.update(dict(pc.items))
    return gold, items


def outbox_events(store: Store) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    after = 0
    while batch := store.read_outbox(after=after, limit=5000):
        events.extend(orjson.loads(e.body) for e in batch)
        after = batch[-1].seq
    return events
