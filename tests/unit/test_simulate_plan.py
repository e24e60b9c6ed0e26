"""The simulator's plan: deterministic from the seed, lifelike, and never self-trading."""

from __future__ import annotations

from collections import Counter

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.simulate.economy_moves import ADJUSTING, declines
from bazaar.simulate.exploits import GOLD_FUNNEL, KINDS, LOPSIDED, WASH_TRADING
from bazaar.simulate.plan import PlannedTrade, SimulationPlan
from bazaar.simulate.planner import TradePlanner


def _plan(catalog: Catalog, **kw: int) -> tuple[TradePlanner, list[PlannedTrade]]:
    planner = TradePlanner(catalog, SimulationPlan(**kw))  # type: ignore[arg-type]
    return planner, list(planner)


def test_same_seed_plans_the_same_trades_and_another_seed_does_not(catalog: Catalog) -> None:
    _, first = _plan(catalog, players=80, trades=1500, seed=7, exploiters=1)
    _, again = _plan(catalog, players=80, trades=1500, seed=7, exploiters=1)
    _, other = _plan(catalog, players=80, trades=1500, seed=8, exploiters=1)
    ids = list(range(1, 81))
    assert [t.to_document(ids) for t in first] == [t.to_document(ids) for t in again]
    assert [t.to_document(ids) for t in first] != [t.to_document(ids) for t in other]


def test_no_player_ever_trades_with_itself(catalog: Catalog) -> None:
    _, trades = _plan(catalog, players=20, trades=5000, seed=3, exploiters=1)
    assert all(t.one != t.two for t in trades if t.action not in ADJUSTING)
    assert all(t.one == t.two for t in trades if t.action in ADJUSTING)


def test_classes_follow_the_catalog_weights(catalog: Catalog) -> None:
    planner = TradePlanner(catalog, SimulationPlan(players=8000, trades=0, seed=1))
    drawn = Counter(r.player_class for r in planner.residents)
    total_weight = sum(c.weight for c in catalog.classes.values())
    for name, pc in catalog.classes.items():
        expected = pc.weight / total_weight
        assert abs(drawn[name] / 8000 - expected) < 0.02, name


def test_a_few_players_make_many_of_the_trades(catalog: Catalog) -> None:
    _, trades = _plan(catalog, players=500, trades=20_000, seed=2)
    started = Counter(t.one for t in trades)
    busiest_tenth = sum(n for _, n in started.most_common(50))
    assert busiest_tenth / len(trades) > 0.3  # uniform activity would give 0.1


def test_most_trades_are_fair_and_meant_to_succeed(catalog: Catalog) -> None:
    planner, trades = _plan(catalog, players=300, trades=10_000, seed=4)
    kinds = Counter(t.kind for t in trades)
    assert kinds["swap"] > kinds["buy"] > 0 and kinds["sell"] > 0 and kinds["mistake"] > 0
    values = planner.ledger.values

    def worth(lines: tuple[tuple[int, int], ...], gold: int) -> int:
        return gold + sum(values[i] * q for i, q in lines)

    swaps = [t for t in trades if t.kind == "swap"]
    fair = [
        t for t in swaps if 0.5 <= worth(t.lines_1, t.gold_1) / worth(t.lines_2, t.gold_2) <= 2.0
    ]
    assert len(fair) == len(swaps)
    honest = [t for t in trades if t.kind != "mistake" and t.action != "offer_expire"]
    assert all(t.expect == ("declined" if declines(t.action) else "accepted") for t in honest)
    assert {t.expect for t in trades if t.kind == "mistake"} == {
        "insufficient_items",
        "insufficient_gold",
    }


def test_farmers_go_to_market_for_armour_and_blacksmiths_for_food(catalog: Catalog) -> None:
    planner, trades = _plan(catalog, players=300, trades=10_000, seed=5)
    cls = {r.slot: r.player_class for r in planner.residents}
    got: dict[str, Counter[int]] = {"farmer": Counter(), "blacksmith": Counter()}
    for t in trades:
        if t.kind in ("swap", "buy") and cls[t.one] in got:
            got[cls[t.one]].update(dict(t.lines_2))
    armour, food = 1, 5
    assert got["farmer"].most_common(1)[0][0] in (armour, 2, 8, 9)
    assert got["farmer"][armour] > got["farmer"][food]
    assert got["blacksmith"][food] > got["blacksmith"][armour]


@pytest.mark.parametrize("per_kind", [1, 3])
def test_each_kind_of_exploiter_is_cast_and_acts(catalog: Catalog, per_kind: int) -> None:
    planner, trades = _plan(catalog, players=200, trades=6000, seed=9, exploiters=per_kind)
    truth = planner.truth(list(range(1, 201)))
    assert {k: len(v) for k, v in truth["kinds"].items()} == dict.fromkeys(KINDS, per_kind)
    acted = Counter(t.kind for t in trades)
    assert acted[GOLD_FUNNEL] >= 8 * per_kind
    assert acted[WASH_TRADING] >= 6 * per_kind
    assert acted[LOPSIDED] >= 5 * per_kind
    # Every labelled account took part in its kind's trades, each group in its own variant.
    for group in planner.cast.groups:
        mine = {s for t in trades if t.kind == group.kind for s in (t.one, t.two)}
        assert set(group.members) <= mine, (group.kind, group.variant)
    variants = [g.variant for g in planner.cast.groups]
    assert len(set(variants)) == len(variants) or per_kind > 2
    exploiters = planner.cast.slots
    assert not any(
        t.one in exploiters or t.two in exploiters
        for t in trades
        if t.kind in ("swap", "buy", "sell", "mistake")
    )


def test_too_many_exploiters_for_the_population_is_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="accounts"):
        TradePlanner(catalog, SimulationPlan(players=10, trades=1000, exploiters=2))


def test_honest_residents_meet_quests_repairs_and_offers_at_the_planned_rates(
    catalog: Catalog,
) -> None:
    planner, trades = _plan(catalog, players=300, trades=10_000, seed=6, exploiters=1)
    exploiters = planner.cast.slots
    trading = [t for t in trades if t.action not in ADJUSTING]
    adjusting = [t for t in trades if t.action in ADJUSTING]
    assert len([t for t in trading if t.action != "offer_expire"]) == 10_000  # the rest: on top
    honest_trades = [t for t in trading if t.kind in ("swap", "buy", "sell", "mistake")]
    assert 0.07 < len(adjusting) / len(honest_trades) < 0.13  # grant_rate 0.1
    reasons = Counter(t.kind for t in adjusting)
    assert set(reasons) == {"quest_reward", "loot", "repair", "craft"}
    assert {t.action for t in adjusting if t.kind in ("quest_reward", "loot")} == {"grant"}
    assert {t.action for t in adjusting if t.kind in ("repair", "craft")} == {"consume"}
    offers = Counter(t.action for t in trading if t.action)
    left = offers.pop("offer_expire")
    assert set(offers) == {"offer_accept", "offer_decline", "counter_accept", "counter_decline"}
    assert 0.15 < sum(offers.values()) / len(honest_trades) < 0.25  # offer_rate 0.2
    # A few more are made at the very end, each by another player, and left to expire.
    assert left == 20 and [t.action for t in trades[-left:]] == ["offer_expire"] * left
    assert len({t.one for t in trades[-left:]}) == left
    assert offers["offer_accept"] > offers["counter_accept"] > 0
    assert all(t.extra > 0 for t in trading if t.action.startswith("counter"))
    # Exploiters never meet a faucet, a sink or an offer: their trades stay as scripted.
    assert not any(t.one in exploiters or t.two in exploiters for t in trades if t.action)
    # Nobody is planned below zero or past capacity.
    for holding in planner.ledger.holdings:
        assert holding.gold >= 0 and all(q > 0 for q in holding.items.values())
        assert holding.held <= holding.capacity


def test_rates_of_zero_plan_plain_trades_only(catalog: Catalog) -> None:
    _, trades = _plan(catalog, players=80, trades=2000, seed=7, grant_rate=0, offer_rate=0)
    assert len(trades) == 2000 and not any(t.action for t in trades)


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_a_rate_outside_0_to_1_is_refused(rate: float) -> None:
    with pytest.raises(ValueError, match="grant-rate"):
        SimulationPlan(grant_rate=rate)
