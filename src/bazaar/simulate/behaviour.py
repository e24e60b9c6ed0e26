"""How honest residents trade: what they want, whom they ask, and what they offer.

Most trades are fair-value swaps with a little haggling noise; some are purchases or sales
for gold; a few are mistakes (offering more than one holds) that the server rejects. Each
class wants the goods other classes make (a farmer wants armour, a blacksmith food), so
goods flow between classes the way a player would expect. Who starts a trade follows the
residents' heavy-tailed activity. Every proposal is checked against the simulator's model
so honest trades are meant to succeed: residents trade what they actually hold.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from bazaar.simulate.holdings import ACCEPTED, Holding, ItemLines, Ledger
from bazaar.simulate.population import Resident

# What each class of the shipped catalog goes to market for (item ids). Classes of another
# catalog, and wishes naming items it lacks, fall back to "anything someone else holds".
WANTS: dict[str, tuple[int, ...]] = {
    "farmer": (1, 2, 8, 9),  # armour, swords, leather, clothing
    "hunter": (5, 3, 2, 6),  # food, potions, swords, milk
    "blacksmith": (5, 7, 6, 8),  # food, venison, milk, leather
    "alchemist": (6, 5, 11, 7),  # milk, food, trade goods, venison
    "tailor": (8, 11, 5, 15),  # leather, trade goods, food, leather goods
    "leatherworker": (8, 7, 5, 3),  # leather, venison, food, potions
    "trader": (10, 15, 16, 1),  # fancy clothing, leather goods, documents, armour
    "aristocrat": (10, 12, 17, 15),  # fancy clothing, exotic pets, status items
    "banker": (13, 12, 14, 10),  # political dirt, exotic pets, fancy supplies
    "warrior": (1, 2, 3, 5),  # armour, swords, potions, food
}

SWAP_SHARE = 0.55
BUY_SHARE = 0.25  # the rest are sales
HAGGLE_SIGMA = 0.12  # lognormal noise on the agreed value: most trades within ±25%
SPEND_SHARE = 0.3  # at most this share of a purse goes on one purchase
MAX_UNITS = 12
ATTEMPTS = 8

Proposal = tuple[str, int, int, ItemLines, int, ItemLines, int]
"""(kind, slot_1, slot_2, lines_1, gold_1, lines_2, gold_2)"""


@dataclass(slots=True)
class _Pool:
    """Slots to draw from by activity, with cumulative weights for bisect-speed draws."""

    slots: list[int]
    cum: list[float]

    @staticmethod
    def of(residents: Sequence[Resident], slots: Sequence[int]) -> _Pool:
        return _Pool(list(slots), list(itertools.accumulate(residents[s].activity for s in slots)))

    def draw(self, rng: random.Random) -> int:
        at = bisect.bisect(self.cum, rng.random() * self.cum[-1])
        return self.slots[min(at, len(self.slots) - 1)]  # float rounding can land on the end


class HonestTrading:
    """Proposes honest residents' trades, one at a time, against the model's holdings."""

    def __init__(
        self,
        ledger: Ledger,
        residents: Sequence[Resident],
        honest: Sequence[int],
        rng: random.Random,
        *,
        mistake_rate: float,
    ) -> None:
        if len(honest) < 2:
            raise ValueError("honest trading needs at least 2 honest residents")
        self._ledger = ledger
        self._rng = rng
        self._mistake_rate = mistake_rate
        self._everyone = _Pool.of(residents, honest)
        self._class_of = {r.slot: r.player_class for r in residents}
        items = ledger.catalog.items
        self._wants = {name: tuple(i for i in wants if i in items) for name, wants in WANTS.items()}
        makers: dict[int, list[int]] = {}
        for slot in honest:
            for item_id, _ in ledger.catalog.classes[residents[slot].player_class].items:
                makers.setdefault(item_id, []).append(slot)
        self._makers = {item_id: _Pool.of(residents, s) for item_id, s in makers.items()}

    def propose(self) -> Proposal:
        rng = self._rng
        one = self._everyone.draw(rng)
        if rng.random() < self._mistake_rate:
            return self._mistake(one)
        for _ in range(ATTEMPTS):
            proposal = self._attempt(one)
            if proposal is not None:
                return proposal
            one = self._everyone.draw(rng)
        return self._mistake(one)  # a market with nothing left to trade still gets asked

    # -- the kinds of honest trade ------------------------------------------------------

    def _attempt(self, one: int) -> Proposal | None:
        rng, ledger = self._rng, self._ledger
        two, want = self._counterparty(one)
        if two is None or want is None:
            return None
        h1, h2 = ledger.holdings[one], ledger.holdings[two]
        roll = rng.random()
        if roll < SWAP_SHARE:
            proposal = self._swap(one, two, h1, h2, want)
        elif roll < SWAP_SHARE + BUY_SHARE:
            proposal = self._buy(one, two, h1, h2, want)
        else:
            proposal = self._sell(one, two, h1, h2)
        if proposal is None or ledger.predict(*proposal[1:]) != ACCEPTED:
            return None
        return proposal

    def _counterparty(self, one: int) -> tuple[int | None, int | None]:
        """Someone holding what `one`'s class wants, else anyone active and what they hold."""
        rng, holdings = self._rng, self._ledger.holdings
        wants = self._wants.get(self._class_of[one], ())
        if wants:
            want = rng.choice(wants)
            makers = self._makers.get(want)
            if makers is not None:
                two = makers.draw(rng)
                if two != one and holdings[two].has(want):
                    return two, want
        two = self._everyone.draw(rng)
        if two == one or not holdings[two].items:
            return None, None
        return two, rng.choice(list(holdings[two].items))

    def _haggle(self) -> float:
        return self._rng.lognormvariate(0.0, HAGGLE_SIGMA)

    def _units(self, holding: Holding, item_id: int, budget: float | None = None) -> int:
        value = max(1, self._ledger.values[item_id])
        most = min(holding.has(item_id), MAX_UNITS if value < 1000 else 1)
        if budget is not None:
            most = min(most, int(budget // value))
        return self._rng.randint(1, most) if most >= 1 else 0

    def _swap(self, one: int, two: int, h1: Holding, h2: Holding, want: int) -> Proposal | None:
        values = self._ledger.values
        units_wanted = self._units(h2, want)
        if not units_wanted:
            return None
        agreed = units_wanted * values[want] * self._haggle()
        # Offer something whose unit value fits the deal: nobody pays for milk with a crown.
        offers = [i for i in h1.items if i != want and 0 < values[i] <= agreed * 1.25]
        if not offers:
            return None
        offer = self._rng.choice(offers)
        units_offered = min(h1.has(offer), max(1, round(agreed / values[offer])))
        gold_1 = gold_2 = 0
        balance = round(agreed - units_offered * values[offer])
        if balance > 0:
            gold_1 = min(balance, h1.gold)
        elif balance < 0:
            gold_2 = min(-balance, h2.gold)
        given = units_offered * values[offer] + gold_1
        got = units_wanted * values[want] + gold_2
        if max(given, got) > 2 * min(given, got):  # could not settle near fair value
            return None
        return (
            "swap",
            one,
            two,
            ((offer, units_offered),),
            gold_1,
            ((want, units_wanted),),
            gold_2,
        )

    def _buy(self, one: int, two: int, h1: Holding, h2: Holding, want: int) -> Proposal | None:
        units = self._units(h2, want, budget=h1.gold * SPEND_SHARE)
        if not units:
            return None
        price = max(1, round(units * self._ledger.values[want] * self._haggle()))
        if price > h1.gold:
            return None
        return ("buy", one, two, (), price, ((want, units),), 0)

    def _sell(self, one: int, two: int, h1: Holding, h2: Holding) -> Proposal | None:
        if not h1.items:
            return None
        item = self._rng.choice(list(h1.items))
        units = self._units(h1, item, budget=h2.gold * SPEND_SHARE)
        if not units:
            return None
        price = max(1, round(units * self._ledger.values[item] * self._haggle()))
        if price > h2.gold:
            return None
        return ("sell", one, two, ((item, units),), 0, (), price)

    def _mistake(self, one: int) -> Proposal:
        """Asks for more than the resident holds: the server must say no, and it is logged."""
        rng, holdings = self._rng, self._ledger.holdings
        two = self._everyone.draw(rng)
        while two == one:
            two = self._everyone.draw(rng)
        h1 = holdings[one]
        if h1.items and rng.random() < 0.5:
            item = rng.choice(list(h1.items))
            return ("mistake", one, two, ((item, h1.has(item) + rng.randint(1, 5)),), 0, (), 0)
        return ("mistake", one, two, (), h1.gold + rng.randint(1, 100), (), 0)
