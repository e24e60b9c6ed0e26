from __future__ import annotations

import random
from collections import Counter

import pytest

from bazaar.api.schemas import player_view
from bazaar.domain.catalog import Catalog, catalog_from_document
from bazaar.domain.clock import next_instant, parse_instant
from bazaar.domain.errors import CatalogError, InvalidRequest
from bazaar.domain.model import PlayerState, check_username


def test_default_catalog_has_the_ten_classes_and_their_weights(catalog: Catalog) -> None:
    assert sum(c.weight for c in catalog.classes.values()) == 20
    assert catalog.classes["farmer"].weight == 4 and catalog.classes["banker"].gold == 10**7
    assert all(sum(q for _, q in c.items) <= c.capacity for c in catalog.classes.values())


def test_class_draw_follows_weights(catalog: Catalog) -> None:
    rng = random.Random(5)
    drawn = Counter(catalog.draw_class(rng).name for _ in range(20_000))
    assert 3500 < drawn["farmer"] < 4500 and 700 < drawn["warrior"] < 1300


def test_player_view_names_and_values_each_held_item(catalog: Catalog) -> None:
    doc = catalog.to_document()
    doc["items"][0]["name"] = "Renamed Sword"
    renamed = catalog_from_document(doc)
    first = doc["items"][0]
    state = PlayerState(1, "ann", "farmer", 5, {404: 2, first["item_id"]: 3}, 50, 1, "t")
    assert player_view(renamed, state)["items"] == [
        {
            "item_id": first["item_id"],
            "name": "Renamed Sword",
            "value": first["value"],
            "quantity": 3,
        },
        # an item the catalog does not know is still listed, with name and value null
        {"item_id": 404, "name": None, "value": None, "quantity": 2},
    ]


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["items"].append(dict(d["items"][0])),  # duplicate id
        lambda d: d["classes"][0]["items"].append({"item_id": 404, "quantity": 1}),
        lambda d: d["items"][0].update(value=-1),
        lambda d: d["items"][0].update(value=2.5),
        lambda d: d["classes"][0].update(capacity=10),
    ],
)
def test_bad_catalogs_are_refused_with_a_reason(catalog: Catalog, mutate: object) -> None:
    doc = catalog.to_document()
    mutate(doc)  # type: ignore[operator]
    with pytest.raises(CatalogError):
        catalog_from_document(doc)


@pytest.mark.parametrize("name", ["Ann", "dark knight", "Ærwyn_2", "a.b-c"])
def test_usernames_accepted(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize(
    "name", ["", "x" * 33, " lead", "bell\x07", "tab\there", "a\u202eb", "<script>"]
)
def test_usernames_refused(name: str) -> None:
    with pytest.raises(InvalidRequest):
        check_username(name)


def test_instants_strictly_increase_even_if_the_clock_stalls() -> None:
    first = next_instant(parse_instant("2026-01-01T00:00:00.000000Z"), None)
    second = next_instant(parse_instant("2025-01-01T00:00:00Z"), first)
    assert first == "2026-01-01T00:00:00.000000Z"
    assert second == "2026-01-01T00:00:00.000001Z"
