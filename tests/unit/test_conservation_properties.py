"""Property tests: no sequence of trade requests creates or destroys gold or items."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, execute_trade

CATALOG = load_catalog()
CLASSES = sorted(CATALOG.classes)
ITEM_IDS = [*sorted(CATALOG.items), 0, 99]  # plus ids the catalog does not know

lines = st.lists(st.builds(ItemLine, st.sampled_from(ITEM_IDS), st.integers(1, 600)), max_size=3)
sides = st.tuples(st.integers(0, 5), lines, st.integers(0, 6000))
requests = st.lists(st.tuples(sides, sides), min_size=1, max_size=60)


def _world(classes: list[str]) -> dict[int, PlayerState]:
    world = {}
    for pid, name in enumerate(classes):
        pc = CATALOG.classes[name]
        world[pid] = PlayerState(pid, f"p{pid}", name, pc.gold, dict(pc.items), pc.capacity, 1, "t")
    return world


def _totals(world: dict[int, PlayerState]) -> tuple[int, Counter[int]]:
    items: Counter[int] = Counter()
    for s in world.values():
        items.update(s.items)
    return sum(s.gold for s in world.values()), items


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(CLASSES), min_size=6, max_size=6), requests)
def test_any_sequence_conserves_gold_and_items(
    classes: list[str], raw: list[tuple[tuple[int, list[ItemLine], int], ...]]
) -> None:
    world = _world(classes)
    before = _totals(world)
    for n, ((a, a_lines, a_gold), (b, b_lines, b_gold)) in enumerate(raw):
        request = TradeRequest(
            TradeSide(a, tuple(a_lines), a_gold), TradeSide(b, tuple(b_lines), b_gold)
        )
        old = dict(world)
        outcome = execute_trade(CATALOG, request, world[a], world[b], trade_id=n, executed_at="t")
        if isinstance(outcome, Accepted):
            world[a], world[b] = outcome.player_1, outcome.player_2
            for s in (outcome.player_1, outcome.player_2):
                assert s.gold >= 0 and all(q > 0 for q in s.items.values())
                assert s.held <= s.capacity or s.held <= old[s.player_id].held
        else:
            assert world == old  # a rejected trade changes nothing
        assert _totals(world) == before
