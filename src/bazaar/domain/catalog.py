"""Items and player classes: the server-owned facts every trade is checked against."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bazaar.domain.errors import CatalogError


@dataclass(frozen=True, slots=True)
class Item:
    item_id: int
    name: str
    level: int
    value: int  # whole gold per unit: never a float, so sums are exact


@dataclass(frozen=True, slots=True)
class PlayerClass:
    name: str
    weight: int
    gold: int
    capacity: int
    items: tuple[tuple[int, int], ...]  # (item_id, quantity) starting stacks


@dataclass(frozen=True, slots=True)
class Catalog:
    items: Mapping[int, Item]
    classes: Mapping[str, PlayerClass]
    # item_id -> value per unit, derived from `items`: the trade path reads it for every
    # line and every held stack, so it is one dict lookup instead of a method call each.
    values: Mapping[int, int] = field(init=False, repr=False, compare=False)
    # item_id -> name, derived the same way: every answer about a player names each held item.
    names: Mapping[int, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", {i: item.value for i, item in self.items.items()})
        object.__setattr__(self, "names", {i: item.name for i, item in self.items.items()})

    def item(self, item_id: int) -> Item | None:
        return self.items.get(item_id)

    def player_class(self, name: str) -> PlayerClass | None:
        return self.classes.get(name)

    def draw_class(self, rng: random.Random) -> PlayerClass:
        """Draw a class with the catalog's weights (the seed's farmer 4/20 … warrior 1/20)."""
        names = list(self.classes)
        weights = [self.classes[n].weight for n in names]
        return self.classes[rng.choices(names, weights=weights, k=1)[0]]

    def to_document(self) -> dict[str, Any]:
        return {
            "items": [
                {"item_id": i.item_id, "name": i.name, "level": i.level, "value": i.value}
                for i in sorted(self.items.values(), key=lambda i: i.item_id)
            ],
            "classes": [
                {
                    "name": c.name,
                    "weight": c.weight,
                    "gold": c.gold,
                    "capacity": c.capacity,
                    "items": [{"item_id": i, "quantity": q} for i, q in c.items],
                }
                for c in self.classes.values()
            ],
        }


def _int(doc: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int:
    value = doc.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise CatalogError(f"{where}: {key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def catalog_from_document(doc: Mapping[str, Any]) -> Catalog:
    """Build and check a catalog; every inconsistency is a CatalogError naming its place."""
    raw_items = doc.get("items")
    raw_classes = doc.get("classes")
    if not isinstance(raw_items, Sequence) or not isinstance(raw_classes, Sequence):
        raise CatalogError("catalog must have 'items' and 'classes' lists")
    items: dict[int, Item] = {}
    for n, raw in enumerate(raw_items):
        where = f"items[{n}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise CatalogError(f"{where}: needs item_id, name, level, value")
        item = Item(
            item_id=_int(raw, "item_id", where, 1),
            name=raw["name"],
            level=_int(raw, "level", where),
            value=_int(raw, "value", where),
        )
        if item.item_id in items:
            raise CatalogError(f"{where}: duplicate item_id {item.item_id}")
        items[item.item_id] = item
    classes: dict[str, PlayerClass] = {}
    for n, raw in enumerate(raw_classes):
        where = f"classes[{n}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise CatalogError(f"{where}: needs name, weight, gold, capacity, items")
        stacks: list[tuple[int, int]] = []
        for m, stack in enumerate(raw.get("items", [])):
            item_id = _int(stack, "item_id", f"{where}.items[{m}]", 1)
            if item_id not in items:
                raise CatalogError(f"{where}.items[{m}]: unknown item_id {item_id}")
            stacks.append((item_id, _int(stack, "quantity", f"{where}.items[{m}]", 1)))
        pc = PlayerClass(
            name=raw["name"],
            weight=_int(raw, "weight", where, 1),
            gold=_int(raw, "gold", where),
            capacity=_int(raw, "capacity", where, 1),
            items=tuple(stacks),
        )
        if sum(q for _, q in pc.items) > pc.capacity:
            raise CatalogError(f"{where}: starting items exceed capacity {pc.capacity}")
        if pc.name in classes or pc.name == "random":
            raise CatalogError(f"{where}: duplicate or reserved class name {pc.name!r}")
        classes[pc.name] = pc
    if not classes:
        raise CatalogError("catalog defines no player classes")
    return Catalog(items=items, classes=classes)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """The shipped default catalog, or the JSON file at `path`."""
    try:
        if path is None:
            text = resources.files("bazaar").joinpath("data/catalog.json").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        doc = json.loads(text)
    except (OSError, ValueError) as exc:
        raise CatalogError(f"cannot read catalog {path or '(default)'}: {exc}") from exc
    return catalog_from_document(doc)
