"""The simulator's two copies of its model (next to the store, and the planner's) move
by the same rule, so answers unlike the model leave both holding what the store holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import BazaarError
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.simulate.holdings import ACCEPTED, ItemLines, Ledger
from bazaar.simulate.plan import PlannedTrade, TradeRequests
from bazaar.simulate.reconcile import Answer, Checker, Reconciler, order_of
from bazaar.simulate.stats import SimulationStats
from bazaar.store.sqlite import SQLiteStore

A, B, C = 0, 1, 2
CLASSES = ("warrior", "warrior", "farmer")  # warriors hold one item 19, farmers none
TOKEN = 19
Gift = tuple[int, int, ItemLines, int]  # (giver, taker, items, gold), by slot


class Economy:
    """Three players in a real store, the planner's model of them, and someone else
    trading with them behind the simulator's back."""

    def __init__(self, catalog: Catalog, path: Path) -> None:
        self.store = SQLiteStore(path, catalog)
        self.model = Ledger(catalog)  # the planner's
        self.ids = []
        for n, player_class in enumerate(CLASSES):
            self.model.add(player_class)
            new = NewPlayer(player_class, f"resident-{n}")
            self.ids.append(self.store.create_player(new).player_id)
        self.stats = SimulationStats(planned=0)
        self.requests = TradeRequests(self.ids)

    def plan(self, index: int, one: int, two: int, lines_1: ItemLines = (), gold_1: int = 0,
             snapshots: bool = False) -> PlannedTrade:  # fmt: skip
        """As TradePlanner does: predict against the model, apply if it will be accepted."""
        model = self.model
        expect = model.predict(one, two, lines_1, gold_1, (), 0)
        if expect == ACCEPTED:
            model.apply(one, two, lines_1, gold_1, (), 0)
        if not snapshots:
            return PlannedTrade(index, "swap", one, two, lines_1, gold_1, (), 0, expect)
        after = model.holdings[one].snapshot(), model.holdings[two].snapshot()
        return PlannedTrade(index, "swap", one, two, lines_1, gold_1, (), 0, expect, *after)

    def meddle(self, gift: Gift | None) -> None:
        """Someone else's trade: `giver` gives `taker` these items and gold."""
        if gift is None:
            return
        giver, taker, lines, gold = gift
        items = tuple(ItemLine(i, q) for i, q in lines)
        trade = TradeRequest(TradeSide(self.ids[giver], items, gold), TradeSide(self.ids[taker]))
        assert self.store.execute_trade(trade).status == "accepted"

    def execute(self, trade: PlannedTrade) -> TradeOutcome | BazaarError:
        request = self.requests(trade.one, trade.two, trade.lines_1, trade.gold_1, (), 0)
        return self.store.execute_trades([(request, None)])[0]

    def held(self, ledger: Ledger) -> list[tuple[int, dict[int, int]]]:
        return [(h.gold, h.items) for h in ledger.holdings]

    def in_store(self) -> list[tuple[int, dict[int, int]]]:
        return [(p.gold, dict(p.items)) for p in map(self.store.get_player, self.ids)]


@pytest.fixture
def economy(catalog: Catalog, tmp_path: Path) -> Iterator[Economy]:
    economy = Economy(catalog, tmp_path / "b.db")
    yield economy
    economy.store.close()


def test_both_models_end_where_the_store_is_after_answers_unlike_them(
    economy: Economy,
) -> None:
    """Pipelined: the planner plans every trade before any is answered; the store's side
    checks each answer against its copy and the planner applies only what it reports."""
    checked_model = economy.model.copy()  # as the store's process gets it at fork
    checked = Checker(checked_model)
    gold = economy.model.holdings[A].gold
    trades = [
        economy.plan(0, A, B, gold_1=gold + 10),  # A cannot afford it: predicted rejection
        economy.plan(1, A, C, gold_1=1),
        economy.plan(2, B, C, ((TOKEN, 1),)),  # C (a farmer) gets B's token...
        economy.plan(3, C, A, ((TOKEN, 1),)),  # ...and passes it on
        economy.plan(4, A, B, gold_1=1),
    ]
    meddling: list[Gift | None] = [
        (C, A, (), 10),  # so the store accepts trade 0
        (B, A, (), 3),  # trade 1 is accepted, A unlike the model
        (B, A, ((TOKEN, 1),), 0),  # B has no token left for trade 2
        (A, C, ((TOKEN, 1),), 0),  # C has one to give after all
        None,  # trade 4: B is unlike the model (it gave what the store had not said)
    ]
    answers: list[Answer] = []
    for trade, meddle in zip(trades, meddling, strict=True):
        economy.meddle(meddle)
        answers.append(checked.answer(order_of(trade), economy.execute(trade)))
    reconcile = Reconciler(economy.model, economy.stats)
    for trade, answer in zip(trades, answers, strict=True):
        reconcile.answered(trade, answer)

    assert [t.expect for t in trades] == ["insufficient_gold"] + [ACCEPTED] * 4
    kinds = [a if a is None or isinstance(a, str) else "unlike" for a in answers]
    assert kinds == ["unlike", "unlike", "insufficient_items", "unlike", "unlike"]
    assert economy.held(checked_model) == economy.in_store()
    assert economy.held(economy.model) == economy.in_store()
    stats = economy.stats
    assert (stats.accepted, stats.rejected, stats.diverged) == (4, 1, 5)


def test_checked_against_snapshots_one_trade_at_a_time_the_model_ends_where_the_store_is(
    economy: Economy,
) -> None:
    """The same meddling, checked as over HTTP one request at a time."""
    reconcile = Reconciler(economy.model, economy.stats)
    gold = economy.model.holdings[A].gold
    steps: list[tuple[Gift | None, tuple[int, int, ItemLines, int]]] = [
        ((C, A, (), 10), (A, B, (), gold + 10)),
        ((B, A, (), 3), (A, C, (), 1)),
        ((B, A, ((TOKEN, 1),), 0), (B, C, ((TOKEN, 1),), 0)),
        ((A, C, ((TOKEN, 1),), 0), (C, A, ((TOKEN, 1),), 0)),
        (None, (A, B, (), 1)),
    ]
    for index, (meddle, (one, two, lines, gold_1)) in enumerate(steps):
        trade = economy.plan(index, one, two, lines, gold_1, snapshots=True)
        economy.meddle(meddle)
        result = economy.execute(trade)
        assert not isinstance(result, BazaarError)
        if isinstance(result, Accepted):
            after_1 = (result.player_1.gold, result.player_1.items)
            reconcile.accepted(trade, after_1, (result.player_2.gold, result.player_2.items))
        else:
            reconcile.rejected(trade, result.reason.value)
    assert economy.held(economy.model) == economy.in_store()
    assert economy.stats.diverged > 0
