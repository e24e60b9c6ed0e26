"""The trade rules, pure and fast."""

from __future__ import annotations

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, Rejected, RejectionReason, execute_trade


def player(pid: int, gold: int = 100, capacity: int = 50, **items: int) -> PlayerState:
    held = {int(k[1:]): v for k, v in items.items()}
    return PlayerState(pid, f"p{pid}", "farmer", gold, held, capacity, 1, "t")


def trade(
    one: TradeSide, two: TradeSide, p1: PlayerState, p2: PlayerState, catalog: Catalog
) -> Accepted | Rejected:
    return execute_trade(catalog, TradeRequest(one, two), p1, p2, trade_id=1, executed_at="t")


def test_swap_moves_items_and_gold(catalog: Catalog) -> None:
    out = trade(
        TradeSide(1, (ItemLine(5, 3),), 10),
        TradeSide(2, (ItemLine(6, 2),)),
        player(1, i5=3),
        player(2, i6=5),
        catalog,
    )
    assert isinstance(out, Accepted)
    assert dict(out.player_1.items) == {6: 2} and out.player_1.gold == 90
    assert dict(out.player_2.items) == {5: 3, 6: 3} and out.player_2.gold == 110
    assert out.player_1.version == 2 and out.player_2.version == 2


def test_lines_for_the_same_item_are_merged(catalog: Catalog) -> None:
    out = trade(
        TradeSide(1, (ItemLine(5, 2), ItemLine(5, 2))),
        TradeSide(2),
        player(1, i5=3),
        player(2),
        catalog,
    )
    assert isinstance(out, Rejected) and out.reason is RejectionReason.INSUFFICIENT_ITEMS
    assert out.request.player_1.items == (ItemLine(5, 4),)


def test_gold_only_gift_is_allowed(catalog: Catalog) -> None:
    out = trade(TradeSide(1, gold=100), TradeSide(2), player(1), player(2), catalog)
    assert isinstance(out, Accepted) and out.player_1.gold == 0 and out.player_2.gold == 200


@pytest.mark.parametrize(
    ("one", "two", "p1", "p2", "reason"),
    [
        (TradeSide(1, gold=1), TradeSide(1), player(1), player(1), "self_trade"),
        (TradeSide(1), TradeSide(2), player(1), player(2), "empty_trade"),
        (TradeSide(1, (ItemLine(77, 1),)), TradeSide(2), player(1), player(2), "unknown_item"),
        (
            TradeSide(1, (ItemLine(5, 4),)),
            TradeSide(2),
            player(1, i5=3),
            player(2),
            "insufficient_items",
        ),
        (TradeSide(1, gold=101), TradeSide(2), player(1), player(2), "insufficient_gold"),
        (
            TradeSide(1, (ItemLine(5, 3),)),
            TradeSide(2),
            player(1, i5=3),
            player(2, capacity=2),
            "capacity_exceeded",
        ),
        # Reason order: unknown items are named before missing gold.
        (TradeSide(1, (ItemLine(77, 1),), 999), TradeSide(2), player(1), player(2), "unknown_item"),
    ],
)
def test_each_rule_rejects_with_one_reason(
    one: TradeSide, two: TradeSide, p1: PlayerState, p2: PlayerState, reason: str, catalog: Catalog
) -> None:
    out = trade(one, two, p1, p2, catalog)
    assert isinstance(out, Rejected)
    assert out.reason.value == reason
    assert out.detail


def test_swap_that_frees_room_fits_capacity(catalog: Catalog) -> None:
    # Player 2 is full but gives as much as it gets: still within capacity.
    out = trade(
        TradeSide(1, (ItemLine(5, 2),)),
        TradeSide(2, (ItemLine(6, 2),)),
        player(1, i5=2),
        player(2, capacity=5, i6=5),
        catalog,
    )
    assert isinstance(out, Accepted)
