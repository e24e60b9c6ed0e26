"""Checking each answer against the simulator's prediction, and mending the model if not.

With the simulator as the only client, answers always match (the drivers keep each
player's trades in plan order). Anyone else trading with the same players, or a failed
request, makes them differ: the model then moves by the difference, so residents go on
trading what they actually hold, and the run reports how many answers diverged.
"""

from __future__ import annotations

from collections.abc import Mapping

from bazaar.simulate.holdings import Ledger
from bazaar.simulate.plan import PlannedTrade
from bazaar.simulate.stats import SimulationStats

State = tuple[int, Mapping[int, int]]  # (gold, items) of one player after a trade


class Reconciler:
    def __init__(self, ledger: Ledger, stats: SimulationStats) -> None:
        self._ledger = ledger
        self._stats = stats

    def accepted(self, trade: PlannedTrade, after_1: State, after_2: State) -> None:
        expected = (trade.expected_1, trade.expected_2)
        if expected[0] is None or expected[1] is None or expected != (after_1, after_2):
            self.accepted_unlike(trade, expected, (after_1, after_2))
        else:
            self.as_predicted()

    def as_predicted(self) -> None:
        """An accepted trade the model predicted exactly (checked where it ran)."""
        self._stats.accepted += 1

    def accepted_unlike(
        self, trade: PlannedTrade, expected: tuple[State | None, State | None],
        actual: tuple[State, State],
    ) -> None:  # fmt: skip
        """An accepted trade unlike the model that was `expected` (None: not predicted)."""
        self._stats.accepted += 1
        self._stats.diverged += 1
        if expected[0] is None or expected[1] is None:
            self._apply(trade, +1)
            # The trade's own effect is now in the model; what else changed is unknown.
            return
        self._ledger.correct(trade.one, expected[0], actual[0])
        self._ledger.correct(trade.two, expected[1], actual[1])

    def rejected(self, trade: PlannedTrade, reason: str) -> None:
        self._stats.rejected += 1
        self._stats.rejections[reason] += 1
        if reason != trade.expect:
            self._stats.diverged += 1
            if trade.expect_accepted:
                self._apply(trade, -1)

    def failed(self, trade: PlannedTrade) -> None:
        """No usable answer: the store applied nothing (5xx) or we cannot know; assume not."""
        self._stats.failed += 1
        if trade.expect_accepted:
            self._apply(trade, -1)

    def _apply(self, trade: PlannedTrade, sign: int) -> None:
        gives: dict[int, int] = {}
        for item_id, qty in trade.lines_1:
            gives[item_id] = gives.get(item_id, 0) + qty
        for item_id, qty in trade.lines_2:
            gives[item_id] = gives.get(item_id, 0) - qty
        gold = trade.gold_1 - trade.gold_2
        self._ledger.shift(trade.one, -sign * gold, {i: -sign * q for i, q in gives.items()})
        self._ledger.shift(trade.two, sign * gold, {i: sign * q for i, q in gives.items()})
