"""The trade plan: a deterministic sequence of trades drawn from the seed alone.

Every random choice comes from generators seeded by (seed, purpose), and every trade is
planned against the simulator's model of holdings, which is advanced by the PREDICTED
outcome, never by an answer. So the request sequence is a function of the seed, however
many requests are in flight and in whatever order they complete. Drivers keep the model
true by sending a trade only after every earlier trade of the same two players has been
answered (trades of disjoint players commute, so completion order cannot change outcomes).

What is deterministic, precisely: the sequence of trade bodies in plan order, with players
named by slot. Over HTTP the server assigns player ids, so with players created
concurrently the ids in the bodies may differ between runs (and with C > 1 requests in
flight the store records trades in completion order, each player's own trades still in
plan order). In-process, and over HTTP with --concurrency 1 on a fresh store, the bytes
sent are identical run to run.
"""

from __future__ import annotations

import bisect
import random
from collections import deque
from collections.abc import Iterator
from typing import Any

from bazaar.domain.catalog import Catalog
from bazaar.simulate.behaviour import HonestTrading, Proposal
from bazaar.simulate.economy_moves import DECLINED, EconomyMoves, declines
from bazaar.simulate.exploit_moves import ExploitScript
from bazaar.simulate.exploits import KINDS, Episode, cast_exploiters
from bazaar.simulate.holdings import ACCEPTED, Ledger
from bazaar.simulate.plan import PlannedTrade, SimulationPlan
from bazaar.simulate.population import Resident, draw_population

EXPLOIT_WINDOW = 0.9  # episodes start in the first 90% of the run, so they all finish


def _rng(seed: int, purpose: str) -> random.Random:
    return random.Random(f"bazaar-simulate:{seed}:{purpose}")  # str seeds are stable


class TradePlanner:
    """Residents, exploiters and the trades they make, for one SimulationPlan."""

    def __init__(self, catalog: Catalog, plan: SimulationPlan) -> None:
        self.catalog = catalog
        self.plan = plan
        # PlannedTrade.expected_1/2, each side as the model has it after the trade (after
        # none, for a predicted rejection); off when the answers are checked against a
        # copy of the model elsewhere (reconcile.Checker, in the two-process driver).
        self.snapshots = True
        self.residents: list[Resident] = draw_population(
            catalog, plan.players, _rng(plan.seed, "population")
        )
        self.ledger = Ledger(catalog)
        for resident in self.residents:
            self.ledger.add(resident.player_class)
        self.cast = cast_exploiters(
            self.residents, plan.exploiters, _rng(plan.seed, "cast"), plan.exploit_kinds
        )
        bad = self.cast.slots
        self.honest = [r.slot for r in self.residents if r.slot not in bad]
        self._honest = HonestTrading(
            self.ledger,
            self.residents,
            self.honest,
            _rng(plan.seed, "honest"),
            mistake_rate=plan.mistake_rate,
        )
        self._economy = EconomyMoves(
            self.ledger, _rng(plan.seed, "economy"),
            grant_rate=plan.grant_rate, offer_rate=plan.offer_rate,
        )  # fmt: skip
        script = ExploitScript(self.cast, self.ledger, self.honest, _rng(plan.seed, "exploits"))
        episodes = script.episodes(plan.trades) if self.cast.groups else []
        timing = _rng(plan.seed, "timing")
        window = max(1, int(plan.trades * EXPLOIT_WINDOW))
        self._starts = sorted(timing.randrange(window) for _ in episodes)
        self._episodes = episodes
        timing.shuffle(self._episodes)
        # Exploiters who made at least one accepted exploit trade: a cast member the economy
        # never let act (too poor to overpay, say) did nothing a detector could see.
        self.acted: set[int] = set()

    def truth(self, ids: list[int]) -> dict[str, Any]:
        return self.cast.truth(self.residents, ids, self.plan.seed, self.acted)

    def __iter__(self) -> Iterator[PlannedTrade]:
        ledger = self.ledger
        pending: deque[Episode] = deque()
        active: Episode | None = None
        started = 0
        for index in range(self.plan.trades):
            due = bisect.bisect_right(self._starts, index)
            pending.extend(self._episodes[started:due])
            started = due
            proposal: Proposal | None = None
            while proposal is None and (active is not None or pending):
                if active is None:
                    active = pending.popleft()
                proposal = next(active, None)
                if proposal is None:
                    active = None
            honest = proposal is None
            if proposal is None:
                proposal = self._honest.propose()
            kind, one, two, lines_1, gold_1, lines_2, gold_2 = proposal
            expect = ledger.predict(one, two, lines_1, gold_1, lines_2, gold_2)
            action, extra = "", 0
            if honest and expect == ACCEPTED:
                action, extra = self._economy.offer_ending(lines_2, gold_2)
                if declines(action):
                    expect = DECLINED
            if expect == ACCEPTED:
                ledger.apply(one, two, lines_1, gold_1, lines_2, gold_2)
                if kind in KINDS:
                    self.acted.update((one, two))
            if self.snapshots:
                trade = PlannedTrade(
                    index, kind, one, two, lines_1, gold_1, lines_2, gold_2, expect,
                    ledger.holdings[one].snapshot(), ledger.holdings[two].snapshot(),
                    action=action, extra=extra,
                )  # fmt: skip
            else:
                trade = PlannedTrade(index, kind, one, two, lines_1, gold_1, lines_2, gold_2,
                                     expect, action=action, extra=extra)  # fmt: skip
            yield trade
            if honest:
                after = self._economy.after(trade, snapshots=self.snapshots)
                if after is not None:
                    yield after
        yield from self._economy.left_to_expire(self.plan.trades, self.honest, self.plan.trades)
