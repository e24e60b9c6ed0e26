"""Checking each answer against the simulator's prediction, and mending the model if not.

With the simulator as the only client, answers always match (the drivers keep each
player's trades in plan order). Anyone else trading with the same players, or a failed
request, makes them differ: the model then moves by the difference, so residents go on
trading what they actually hold, and the run reports how many answers diverged.

The rule, wherever the answer is checked: an accepted trade unlike the model moves each
side by (what the store holds - what the model expected after the trade), where the model
expected the trade's effect only if it predicted acceptance; a predicted acceptance the
store did not apply is taken back out. Two places keep a model:

- `Checker` keeps the model as of the answers so far, next to the store (in the store's
  process with the two-process in-process driver), and says how each answer differed;
- `Reconciler` keeps the planner's model, which also holds every trade planned but not
  yet answered, and moves it by exactly what the checker reports (`mend`, shared by both),
  so the two stay equal but for the trades still in flight.

Over HTTP the planner's snapshots (PlannedTrade's `expected_1/2`) stand in for the
checker's model; they are taken when a trade is planned, so with several trades of a
player planned ahead, a change by someone else is mended once per such trade.
"""

from __future__ import annotations

from collections.abc import Mapping

from bazaar.domain.errors import BazaarError
from bazaar.domain.model import PlayerState
from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.simulate.economy_moves import ADJUSTING, DECLINED, EXPIRED, apply_action
from bazaar.simulate.holdings import ACCEPTED, ItemLines, Ledger
from bazaar.simulate.plan import PlannedTrade
from bazaar.simulate.stats import SimulationStats

State = tuple[int, Mapping[int, int]]  # (gold, items) of one player after a trade
# What the checker sends for one trade: (slot_1, slot_2, lines_1, gold_1, lines_2, gold_2,
# expect, action, extra, reason), the plan's prediction and its economy action
# (plan.PlannedTrade) included; `reason` is a grant's or consumption's (its kind), else "".
Order = tuple[int, int, ItemLines, int, ItemLines, int, str, str, int, str]
# What the store did with one order (economy_calls.run_orders): a trade's outcome, a
# grant's or consumption's player state after it, None for an offer declined as planned,
# the reason it refused the goods, or the error that refused the request.
Result = TradeOutcome | PlayerState | str | None | BazaarError
# What it answers: None (as predicted), a rejection reason, REFUSED (no such player), or
# (expected_1, actual_1, expected_2, actual_2) for an accepted trade unlike the model.
Answer = None | str | tuple[State, State, State, State]
REFUSED = ""


def order_of(trade: PlannedTrade) -> Order:
    return (trade.one, trade.two, trade.lines_1, trade.gold_1, trade.lines_2, trade.gold_2,
            trade.expect, trade.action, trade.extra,
            trade.kind if trade.action in ADJUSTING else "")  # fmt: skip


def mend(ledger: Ledger, one: int, two: int, expected_1: State, actual_1: State,
         expected_2: State, actual_2: State) -> None:  # fmt: skip
    """Move both sides of an accepted trade unlike the model by (actual - expected)."""
    ledger.correct(one, expected_1, actual_1)
    if two != one:  # a grant or consumption names its one player twice
        ledger.correct(two, expected_2, actual_2)


class Checker:
    """The model as of the answers so far: what each answer should be, and mending if not.

    Its ledger must start as the planner's did before the first trade was planned."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def answer(self, order: Order, result: Result) -> Answer:
        one, two, lines_1, gold_1, lines_2, gold_2, expect, action, _, _ = order
        if isinstance(result, PlayerState):  # a grant or consumption applied
            ledger = self._ledger
            if expect == ACCEPTED:
                apply_action(ledger, action, one, two, lines_1, gold_1, lines_2, gold_2)
            holding = ledger.holdings[one]
            if expect == ACCEPTED and (holding.gold, holding.items) == (result.gold, result.items):
                return None
            actual = (result.gold, dict(result.items))
            adjusted = (holding.snapshot(), actual, holding.snapshot(), actual)
            mend(ledger, one, two, *adjusted)
            return adjusted
        if result is None:  # an offer declined, or made to expire: nothing moved
            return None if expect in (DECLINED, EXPIRED) else REFUSED
        if isinstance(result, str):
            return result
        if isinstance(result, Accepted):
            ledger = self._ledger
            if expect == ACCEPTED:  # as the planner applied it
                ledger.apply(one, two, lines_1, gold_1, lines_2, gold_2)
            h1, h2 = ledger.holdings[one], ledger.holdings[two]
            s1, s2 = result.player_1, result.player_2
            if (
                expect == ACCEPTED
                and h1.gold == s1.gold
                and h2.gold == s2.gold
                and h1.items == s1.items
                and h2.items == s2.items
            ):
                return None
            unlike = (
                h1.snapshot(), (s1.gold, dict(s1.items)), h2.snapshot(), (s2.gold, dict(s2.items))
            )  # fmt: skip
            mend(ledger, one, two, *unlike)  # from here on the model holds what the store holds
            return unlike
        if isinstance(result, BaseException):
            return REFUSED
        return result.reason.value  # nothing was applied here, so nothing to take back


class Reconciler:
    """The planner's model and the run's tallies, moved by each answer."""

    def __init__(self, ledger: Ledger, stats: SimulationStats) -> None:
        self._ledger = ledger
        self._stats = stats

    def answered(self, trade: PlannedTrade, answer: Answer) -> None:
        """A `Checker`'s answer for `trade`."""
        stats = self._stats
        if trade.action:
            stats.acted(trade, answer is None or isinstance(answer, tuple))
            if trade.action in ADJUSTING:
                if isinstance(answer, tuple):
                    stats.diverged += 1
                    mend(self._ledger, trade.one, trade.two, *answer)
                elif answer is not None:
                    self._refused(trade, answer)
                return
        if answer is None:
            stats.statuses[200] += 1
            if trade.expect == DECLINED:
                stats.declined += 1
            elif trade.expect != EXPIRED:
                stats.accepted += 1
        elif isinstance(answer, tuple):
            stats.statuses[200] += 1
            self.accepted_unlike(trade, *answer)
        elif answer == REFUSED:
            stats.statuses[404] += 1
            self.failed(trade)
        else:
            stats.statuses[409] += 1
            self.rejected(trade, answer)

    def accepted(self, trade: PlannedTrade, after_1: State, after_2: State) -> None:
        """An accepted trade, checked against the planner's snapshots."""
        expected_1, expected_2 = trade.expected_1, trade.expected_2
        if expected_1 is None or expected_2 is None:
            raise ValueError("the trade was planned without snapshots (TradePlanner.snapshots)")
        if trade.expect_accepted and (expected_1, expected_2) == (after_1, after_2):
            self._stats.accepted += 1
        else:
            self.accepted_unlike(trade, expected_1, after_1, expected_2, after_2)

    def accepted_unlike(self, trade: PlannedTrade, expected_1: State, actual_1: State,
                        expected_2: State, actual_2: State) -> None:  # fmt: skip
        self._stats.accepted += 1
        self._stats.diverged += 1
        mend(self._ledger, trade.one, trade.two, expected_1, actual_1, expected_2, actual_2)

    def rejected(self, trade: PlannedTrade, reason: str) -> None:
        self._stats.rejected += 1
        self._stats.rejections[reason] += 1
        if reason != trade.expect:
            self._stats.diverged += 1
            if trade.expect_accepted:
                self._take_back(trade)

    def failed(self, trade: PlannedTrade) -> None:
        """No usable answer: the store applied nothing (5xx) or we cannot know; assume not."""
        self._stats.failed += 1
        if trade.expect_accepted:
            self._take_back(trade)

    def _refused(self, trade: PlannedTrade, reason: str) -> None:
        """A grant or consumption the store did not apply: take the planned one back."""
        self._stats.diverged += 1
        self._stats.rejections[reason or "refused"] += 1
        self._take_back(trade)

    def _take_back(self, trade: PlannedTrade) -> None:
        """Undo a predicted acceptance the store did not apply (the Checker never applied
        it). Shifted, not moved back: the model may no longer hold what the trade gave."""
        if trade.action in ADJUSTING:
            sign = -1 if trade.action == ADJUSTING[0] else 1
            self._ledger.shift(trade.one, sign * trade.gold_1,
                               {i: sign * q for i, q in trade.lines_1})  # fmt: skip
            return
        gives: dict[int, int] = {}
        for item_id, qty in trade.lines_1:
            gives[item_id] = gives.get(item_id, 0) + qty
        for item_id, qty in trade.lines_2:
            gives[item_id] = gives.get(item_id, 0) - qty
        gold = trade.gold_1 - trade.gold_2
        self._ledger.shift(trade.one, gold, gives)
        self._ledger.shift(trade.two, -gold, {i: -q for i, q in gives.items()})
