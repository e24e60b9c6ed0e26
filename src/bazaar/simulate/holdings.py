"""The simulator's own view of every resident's gold and items.

Trades are planned against this model, never against racing HTTP responses, so the same
seed gives the same request sequence at any concurrency. The model predicts each trade's
outcome with the domain's own rules (`trading.broken_rule`) and moves its holdings by the
domain's `trading.exchange`; the planner's item lines name each item once, as the domain's
merged lines do. The driver compares every answer with the prediction and corrects the
model by the difference when they disagree (which only happens when someone else trades
with the same players).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field

from bazaar.domain.catalog import Catalog
from bazaar.domain.trading import broken_rule, exchange

ItemLines = tuple[tuple[int, int], ...]  # (item_id, quantity), quantity > 0
ACCEPTED = "accepted"


@dataclass(slots=True)
class Holding:
    gold: int
    items: dict[int, int]
    capacity: int
    held: int = field(init=False)
    # How far below zero a correction would have taken gold or an item the model shows as
    # 0 (trades planned but not yet answered still spend it): later corrections settle it
    # first, so the model moves by exactly the corrections it was given.
    overdrawn_gold: int = field(default=0, init=False)
    overdrawn_items: dict[int, int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.held = sum(self.items.values())

    def has(self, item_id: int) -> int:
        return self.items.get(item_id, 0)

    def snapshot(self) -> tuple[int, dict[int, int]]:
        return self.gold, dict(self.items)


@dataclass(slots=True)
class Ledger:
    """Holdings by slot, plus item values from the catalog the server uses."""

    catalog: Catalog
    holdings: list[Holding] = field(default_factory=list)
    values: dict[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.values = {item_id: item.value for item_id, item in self.catalog.items.items()}

    def add(self, player_class: str) -> Holding:
        pc = self.catalog.classes[player_class]
        holding = Holding(pc.gold, dict(pc.items), pc.capacity)
        self.holdings.append(holding)
        return holding

    def copy(self) -> Ledger:
        """Another model of the same holdings, moved independently (same catalog)."""
        twin = Ledger(self.catalog)
        twin.holdings = copy.deepcopy(self.holdings)
        return twin

    def worth(self, lines: ItemLines, gold: int = 0) -> int:
        values = self.values
        return gold + sum(values.get(item_id, 0) * qty for item_id, qty in lines)

    def predict(self, one: int, two: int, lines_1: ItemLines, gold_1: int,
                lines_2: ItemLines, gold_2: int) -> str:  # fmt: skip
        """'accepted' or the rejection reason the server will give: the domain's own rules
        (`trading.broken_rule`), over this model of the two players."""
        h1, h2 = self.holdings[one], self.holdings[two]
        broken = broken_rule(self.values, (one, two), lines_1, gold_1, lines_2, gold_2, h1, h2)
        return ACCEPTED if broken is None else broken[0].value

    def apply(self, one: int, two: int, lines_1: ItemLines, gold_1: int,
              lines_2: ItemLines, gold_2: int) -> None:  # fmt: skip
        # The planner moves only what its model holds; a Checker applies what the store
        # accepted, which its model may lack (someone else gave it): a count then goes below
        # zero until the answer mends the model to what the store holds.
        h1, h2 = self.holdings[one], self.holdings[two]
        exchange(h1.items, lines_1, lines_2)
        exchange(h2.items, lines_2, lines_1)
        moved = 0  # items player_1 gains, player_2 loses
        for _, quantity in lines_2:
            moved += quantity
        for _, quantity in lines_1:
            moved -= quantity
        h1.held += moved
        h2.held -= moved
        h1.gold += gold_2 - gold_1
        h2.gold += gold_1 - gold_2

    def correct(self, slot: int, expected: tuple[int, Mapping[int, int]],
                actual: tuple[int, Mapping[int, int]]) -> None:  # fmt: skip
        """Shift a holding by (what the server says - what the model predicted)."""
        items = {
            item_id: actual[1].get(item_id, 0) - expected[1].get(item_id, 0)
            for item_id in set(expected[1]) | set(actual[1])
        }
        self.shift(slot, actual[0] - expected[0], items)

    def shift(self, slot: int, gold: int, items: Mapping[int, int]) -> None:
        """Move a holding by these amounts; what would go below zero shows as 0."""
        holding = self.holdings[slot]
        exact = holding.gold - holding.overdrawn_gold + gold
        holding.gold = max(0, exact)
        holding.overdrawn_gold = holding.gold - exact
        overdrawn = holding.overdrawn_items
        for item_id, delta in items.items():
            exact = holding.items.get(item_id, 0) - overdrawn.pop(item_id, 0) + delta
            if exact > 0:
                holding.items[item_id] = exact
            else:
                holding.items.pop(item_id, None)
                if exact < 0:
                    overdrawn[item_id] = -exact
        holding.held = sum(holding.items.values())
