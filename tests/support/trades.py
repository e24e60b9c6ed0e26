"""Random trade requests among existing players, valid-ish: most are accepted, some break
rules, a few name unknown items or trade with themselves. Each client keeps its own view
of who holds what (refreshed from accepted outcomes), as a real game client would."""

from __future__ import annotations

import random
from collections.abc import Mapping

from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.store.base import Store


def add_players(store: Store, n: int) -> list[int]:
    """Create `n` players cycling through the catalog's classes in name order (a mix of
    holdings to trade); their ids in creation order."""
    classes = sorted(store.catalog.classes)
    return [store.create_player(NewPlayer(classes[i % len(classes)])).player_id for i in range(n)]


def snapshot(store: Store) -> dict[int, dict[int, int]]:
    return {s.player_id: dict(s.items) for s in store.players()}


class TradeGenerator:
    def __init__(self, seed: int, view: Mapping[int, Mapping[int, int]]) -> None:
        self.rng = random.Random(seed)
        self.view = {pid: dict(items) for pid, items in view.items()}
        self.ids = sorted(self.view)

    def _side(self, pid: int) -> TradeSide:
        rng = self.rng
        held = self.view[pid]
        lines = []
        for _ in range(rng.choice((0, 1, 1, 1, 2))):
            if rng.random() < 0.03 or not held:
                lines.append(ItemLine(999 if rng.random() < 0.5 else 1, rng.randint(1, 3)))
                continue
            item_id = rng.choice(sorted(held))
            lines.append(ItemLine(item_id, rng.randint(1, max(1, min(8, held[item_id] + 1)))))
        gold = rng.choice((0, 0, rng.randint(1, 50), rng.randint(1, 400)))
        return TradeSide(pid, tuple(lines), gold)

    def next(self) -> TradeRequest:
        a = self.rng.choice(self.ids)
        b = a if self.rng.random() < 0.02 else self.rng.choice(self.ids)
        return TradeRequest(self._side(a), self._side(b))

    def observe(self, outcome: TradeOutcome) -> None:
        if isinstance(outcome, Accepted):
            for state in (outcome.player_1, outcome.player_2):
                self.view[state.player_id] = dict(state.items)
