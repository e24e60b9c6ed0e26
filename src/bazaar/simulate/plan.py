"""What to simulate (SimulationPlan) and each trade the simulator decided on (PlannedTrade)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.simulate.holdings import ACCEPTED, ItemLines


@dataclass(frozen=True, slots=True)
class SimulationPlan:
    """The whole simulated economy is a function of these values (and the catalog)."""

    players: int = 1000
    trades: int = 10_000
    seed: int = 0
    exploiters: int = 0  # labelled bad actors of EACH kind
    # kinds (and `kind:variant`s) they play: exploits.parse_exploit_kinds
    exploit_kinds: tuple[str, ...] = ("gold_funnel", "wash_trading", "lopsided_trader")
    mistake_rate: float = 0.02  # honest trades that ask for more than a player holds
    # Honest residents' economy outside trades (economy_moves.py): after this share of
    # honest trades, a quest reward, loot, repair or crafting cost for the trader; and this
    # share of honest trades goes through an escrowed offer (accepted, declined or
    # countered). 0 turns each off.
    grant_rate: float = 0.1
    offer_rate: float = 0.2

    def __post_init__(self) -> None:
        if self.players < 2:
            raise ValueError("a living economy needs at least 2 players")
        if self.trades < 0 or self.exploiters < 0:
            raise ValueError("trades and exploiters must not be negative")
        if not 0.0 <= self.mistake_rate < 1.0:
            raise ValueError("mistake_rate must be in [0, 1)")
        for name in ("grant_rate", "offer_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} must be in [0, 1]")


@dataclass(frozen=True, slots=True)
class PlannedTrade:
    """One trade between two slots, with the outcome the simulator's model predicts.

    `expected_1`/`expected_2` are (gold, items) of each side after an accepted trade, so
    an answer can be checked against the model without re-reading the players.
    """

    index: int
    kind: str  # swap | buy | sell | mistake | gold_funnel | wash_trading | lopsided | <reason>
    one: int
    two: int
    lines_1: ItemLines
    gold_1: int
    lines_2: ItemLines
    gold_2: int
    expect: str  # "accepted" or the rejection reason
    expected_1: tuple[int, dict[int, int]] | None = None
    expected_2: tuple[int, dict[int, int]] | None = None
    # "" for a POST /trades; else an economy action (economy_moves.ACTIONS): a grant or a
    # consumption for `one` (lines_1, gold_1; `two` is `one`), or the trade run through an
    # offer. `extra`: the gold the creator first asks on top, before a counter-offer.
    action: str = ""
    extra: int = 0

    @property
    def expect_accepted(self) -> bool:
        return self.expect == ACCEPTED

    def to_document(self, ids: Sequence[int]) -> dict[str, Any]:
        """The POST /trades body, with slots replaced by the server's player ids."""
        return {
            "player_1": _side_document(ids[self.one], self.lines_1, self.gold_1),
            "player_2": _side_document(ids[self.two], self.lines_2, self.gold_2),
        }


def _side_document(player_id: int, lines: ItemLines, gold: int) -> dict[str, Any]:
    return {
        "player_id": player_id,
        "items": [{"item_id": i, "quantity": q} for i, q in lines],
        "gold": gold,
    }


class TradeRequests:
    """Builds the store's TradeRequest of a planned trade, slots replaced by the server's
    player ids. Item lines are immutable values and the same few (item, quantity) lines
    recur, so each distinct one is built once."""

    def __init__(self, ids: Sequence[int]) -> None:
        self._ids = ids
        self._lines: dict[ItemLines, tuple[ItemLine, ...]] = {}

    def _items(self, lines: ItemLines) -> tuple[ItemLine, ...]:
        items = self._lines.get(lines)
        if items is None:
            if len(self._lines) > 100_000:
                self._lines.clear()
            items = self._lines[lines] = tuple([ItemLine(i, q) for i, q in lines])
        return items

    def __call__(self, one: int, two: int, lines_1: ItemLines, gold_1: int,
                 lines_2: ItemLines, gold_2: int) -> TradeRequest:  # fmt: skip
        ids, items = self._ids, self._items
        return TradeRequest(
            TradeSide(ids[one], items(lines_1), gold_1), TradeSide(ids[two], items(lines_2), gold_2)
        )
