"""Honest residents' economy outside plain trades: faucets, sinks and offers.

After an honest trade, at `grant_rate`, the trader meets the game itself: a quest reward
(gold, now and then an item), loot (an item), a repair (gold) or a crafting cost (an item
it holds) — grants and consumptions the server applies. At `offer_rate`, an honest trade
goes through an escrowed offer instead of POST /trades: mostly accepted, sometimes
declined, sometimes countered by its addressee (the creator first asked a little more
gold) and then accepted or declined. Exploiters never do either: their trades, and so the
detectors' truth, stay as the exploit script plans them.

Every choice comes from its own generator (seed, "economy"), and each action is planned
against the model like a trade, so the request sequence is still a function of the seed.
An offer runs from creation to its end in one go, so its escrow is over before the next
action of either player: the model never has to plan around held goods. The few offers
left to expire come after every other order, each by another player, and the drivers wait
for the store to record their expiry (`EXPIRY_SECONDS`) before the run ends.
"""

from __future__ import annotations

import random

from bazaar.simulate.holdings import ACCEPTED, ItemLines, Ledger
from bazaar.simulate.plan import PlannedTrade

GRANT, CONSUME = "grant", "consume"
OFFER_ACCEPT, OFFER_DECLINE = "offer_accept", "offer_decline"
COUNTER_ACCEPT, COUNTER_DECLINE = "counter_accept", "counter_decline"
OFFER_EXPIRE = "offer_expire"  # made at the very end of the run and left to expire
OFFERS = (OFFER_ACCEPT, OFFER_DECLINE, COUNTER_ACCEPT, COUNTER_DECLINE, OFFER_EXPIRE)
ADJUSTING = (GRANT, CONSUME)
ACTIONS = (*ADJUSTING, *OFFERS)
NOT_TRADES = (*ADJUSTING, OFFER_EXPIRE)  # actions that are no planned trade's
DECLINED = "declined"  # the `expect` of an offer the plan has declined: nothing moves
EXPIRED = "expired"  # ... and of one left to expire
LEFT_TO_EXPIRE = 0.01  # of the offers a run makes, this share more is left to expire
EXPIRY_SECONDS = 1  # their time to live: the run waits that long for them at its end
# Cumulative shares of an offer's ending, and of the faucet or sink met after a trade.
OFFER_ENDINGS = ((0.62, OFFER_ACCEPT), (0.77, OFFER_DECLINE), (0.92, COUNTER_ACCEPT),
                 (1.0, COUNTER_DECLINE))  # fmt: skip
ADJUSTMENTS = ((0.45, "quest_reward"), (0.6, "loot"), (0.9, "repair"), (1.0, "craft"))
OFFER_TTL_SECONDS = 600
COUNTER_ASK = 0.1  # the creator's first ask: this share of the deal's worth more in gold
LOOT_MAX_VALUE = 500  # loot is common goods, not crowns


class EconomyMoves:
    """Decides the economy actions of honest residents, against the planner's model."""

    def __init__(self, ledger: Ledger, rng: random.Random, *, grant_rate: float,
                 offer_rate: float) -> None:  # fmt: skip
        self._ledger = ledger
        self._rng = rng
        self._grant_rate = grant_rate
        self._offer_rate = offer_rate
        self._loot = sorted(i for i, v in ledger.values.items() if 0 < v <= LOOT_MAX_VALUE)

    def offer_ending(self, lines_2: ItemLines, gold_2: int) -> tuple[str, int]:
        """("", 0) for a plain POST /trades, or how the trade runs as an offer: the ending
        (OFFERS) and the extra gold first asked before a counter-offer."""
        rng = self._rng
        if not self._offer_rate or rng.random() >= self._offer_rate:
            return "", 0
        roll = rng.random()
        action = next(a for share, a in OFFER_ENDINGS if roll < share)
        extra = 0
        if action in (COUNTER_ACCEPT, COUNTER_DECLINE):
            extra = max(1, round(self._ledger.worth(lines_2, gold_2) * COUNTER_ASK))
        return action, extra

    def after(self, trade: PlannedTrade, *, snapshots: bool = True) -> PlannedTrade | None:
        """A grant or consumption for the trade's first player, at `grant_rate`; the model
        moved by it already."""
        rng = self._rng
        if not self._grant_rate or rng.random() >= self._grant_rate:
            return None
        roll = rng.random()
        reason = next(r for share, r in ADJUSTMENTS if roll < share)
        slot = trade.one
        holding = self._ledger.holdings[slot]
        lines: ItemLines = ()
        gold = 0
        action = GRANT
        # Gold rewards and costs grow with the purse, as higher-level quests and finer gear
        # do: a flat amount would vanish in the rich classes' fortunes.
        if reason == "quest_reward":
            gold = rng.randint(20, 250) + round(holding.gold * rng.uniform(0.005, 0.03))
            if self._loot and rng.random() < 0.3:
                lines = ((rng.choice(self._loot), 1),)
        elif reason == "loot":
            if self._loot:
                lines = ((rng.choice(self._loot), rng.randint(1, 3)),)
            else:
                gold = rng.randint(5, 50)
        elif reason == "repair":
            action = CONSUME
            gold = min(
                holding.gold, rng.randint(10, 150) + round(holding.gold * rng.uniform(0.002, 0.02))
            )
        else:
            action = CONSUME
            if holding.items:
                item = rng.choice(sorted(holding.items))
                lines = ((item, min(holding.items[item], rng.randint(1, 2))),)
        if action == GRANT and holding.held + sum(q for _, q in lines) > holding.capacity:
            lines = ()  # a full pack takes the reward's gold only
            gold = gold or rng.randint(5, 50)
        if not lines and not gold:
            return None  # nothing left to repair with or craft from
        sign = 1 if action == GRANT else -1
        self._ledger.shift(slot, sign * gold, {i: sign * q for i, q in lines})
        if not snapshots:
            return PlannedTrade(trade.index, reason, slot, slot, lines, gold, (), 0, ACCEPTED,
                                action=action)  # fmt: skip
        after = holding.snapshot()
        return PlannedTrade(trade.index, reason, slot, slot, lines, gold, (), 0, ACCEPTED,
                            after, after, action=action)  # fmt: skip

    def left_to_expire(self, trades: int, honest: list[int], index: int) -> list[PlannedTrade]:
        """The offers of the run's end that nobody answers: one unit of something the
        creator holds, for its catalog value in gold, each by a different honest player."""
        count = round(trades * self._offer_rate * LEFT_TO_EXPIRE)
        if not count or len(honest) < 2:
            return []
        rng, holdings, values = self._rng, self._ledger.holdings, self._ledger.values
        creators = [s for s in rng.sample(honest, min(len(honest), 4 * count))
                    if holdings[s].items][:count]  # fmt: skip
        offers = []
        for one in creators:
            two = rng.choice(honest)
            while two == one:
                two = rng.choice(honest)
            item = rng.choice(sorted(holdings[one].items))
            price = max(1, values[item])
            offers.append(PlannedTrade(index, "offer", one, two, ((item, 1),), 0, (), price,
                                       EXPIRED, action=OFFER_EXPIRE))  # fmt: skip
        return offers


def declines(action: str) -> bool:
    return action in (OFFER_DECLINE, COUNTER_DECLINE)


def apply_action(ledger: Ledger, action: str, one: int, two: int, lines_1: ItemLines,
                 gold_1: int, lines_2: ItemLines, gold_2: int) -> None:  # fmt: skip
    """Move the model by an action the store carried out as planned."""
    if action == GRANT:
        ledger.shift(one, gold_1, dict(lines_1))
    elif action == CONSUME:
        ledger.shift(one, -gold_1, {i: -q for i, q in lines_1})
    elif not declines(action):
        ledger.apply(one, two, lines_1, gold_1, lines_2, gold_2)
