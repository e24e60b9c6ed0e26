"""Property tests: no sequence of trade requests creates or destroys gold or items; with
offers (escrow), grants, consumptions and trade fees, supply is exactly creations + grants
- consumptions - fees, per item and for gold."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bazaar.domain.catalog import load_catalog
from bazaar.domain.errors import GoodsUnavailable
from bazaar.domain.grants import Adjustment, AdjustmentKind, apply_adjustment, check_adjustment
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide
from bazaar.domain.offers import check_escrow, hold
from bazaar.domain.trading import Accepted, execute_trade, normalise

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


# -- the economy: escrow, grants, consumptions and fees -----------------------------------

ops = st.one_of(
    st.tuples(st.just("trade"), sides, sides),
    st.tuples(st.just("offer"), sides, sides),
    st.tuples(st.just("accept"), st.integers(0, 20), st.booleans()),  # or release
    st.tuples(st.sampled_from(["grant", "consume"]), sides),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(CLASSES), min_size=6, max_size=6),
    st.lists(ops, min_size=1, max_size=60),
    st.sampled_from([0, 0, 1, 250, 10_000]),
)
def test_supply_is_creations_plus_grants_minus_consumptions_minus_fees(
    classes: list[str], raw: list[tuple[Any, ...]], fee_bps: int
) -> None:
    world = _world(classes)
    gold, items = _totals(world)  # creations
    open_offers: list[TradeRequest] = []
    for n, (kind, *args) in enumerate(raw):
        if kind in ("trade", "offer"):
            (a, a_lines, a_gold), (b, b_lines, b_gold) = args
            request = normalise(
                TradeRequest(
                    TradeSide(a, tuple(a_lines), a_gold), TradeSide(b, tuple(b_lines), b_gold)
                )
            )
            if kind == "offer":
                if a == b or any(CATALOG.item(x.item_id) is None for x in request.player_1.items):
                    continue
                try:
                    check_escrow(world[a], request.player_1)
                except GoodsUnavailable:
                    continue
                world[a] = hold(world[a], request.player_1)
                open_offers.append(request)
                continue
            outcome = execute_trade(
                CATALOG, request, world[a], world[b], trade_id=n, executed_at="t", fee_bps=fee_bps
            )
        elif kind == "accept":
            if not open_offers:
                continue
            request = open_offers.pop(args[0] % len(open_offers))
            a, b = request.player_1.player_id, request.player_2.player_id
            if not args[1]:
                world[a] = hold(world[a], request.player_1, -1)
                continue
            outcome = execute_trade(
                CATALOG, request, world[a], world[b], trade_id=n, executed_at="t",
                fee_bps=fee_bps, escrowed=True,
            )  # fmt: skip
            if not isinstance(outcome, Accepted):  # a failed accept releases the hold
                world[a] = hold(world[a], request.player_1, -1)
        else:
            ((p, p_lines, p_gold),) = args
            adjustment = Adjustment(
                AdjustmentKind.GRANT if kind == "grant" else AdjustmentKind.CONSUMPTION,
                p, tuple(x for x in p_lines if CATALOG.item(x.item_id)), p_gold, "loot",
            )  # fmt: skip
            if not adjustment.items and not adjustment.gold:
                continue
            try:
                world[p] = apply_adjustment(
                    check_adjustment(CATALOG, adjustment, ["loot"]), world[p]
                )
            except GoodsUnavailable:
                continue
            sign = 1 if kind == "grant" else -1
            gold += sign * adjustment.gold
            for line in adjustment.items:
                items[line.item_id] += sign * line.quantity
            continue
        if isinstance(outcome, Accepted):
            world[a], world[b] = outcome.player_1, outcome.player_2
            gold -= outcome.fee_1 + outcome.fee_2
        for s in world.values():  # escrow never exceeds what is held, nothing negative
            assert 0 <= s.held_gold <= s.gold
            assert all(0 < q <= s.items.get(i, 0) for i, q in s.held_items.items())
        assert _totals(world) == (gold, +items)
    held_gold = sum(r.player_1.gold for r in open_offers)
    assert sum(s.held_gold for s in world.values()) == held_gold, "every hold is an open offer's"
