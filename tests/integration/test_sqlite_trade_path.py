"""The SQLite trade path's shortcuts give exactly what the plain domain code gives.

The store renders outcome documents and event ids itself and keeps player states in memory
between transactions; each shortcut is checked against the slow, obvious form, and the
cache against writers it cannot see (another connection, a rolled-back transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import instant_micros
from bazaar.domain.events import trade_event
from bazaar.domain.model import ItemLine, NewPlayer, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted
from bazaar.store.sqlite import SQLiteStore
from bazaar.store.sqlite_batch import outcome_json, trade_outbox_row
from bazaar.store.sqlite_transaction import outbox_row
from tests.support.trades import TradeGenerator, add_players, snapshot


@pytest.fixture
def traders(tmp_path: Path, catalog: Catalog) -> Iterator[tuple[SQLiteStore, int, int]]:
    """A fresh store with a farmer and a blacksmith (who make food and armour)."""
    with SQLiteStore(tmp_path / "s.db", catalog) as store:
        farmer = store.create_player(NewPlayer("farmer")).player_id
        blacksmith = store.create_player(NewPlayer("blacksmith")).player_id
        yield store, farmer, blacksmith


def _swap(a: int, b: int, a_item: int, b_item: int, qty: int = 1) -> TradeRequest:
    return TradeRequest(
        TradeSide(a, (ItemLine(a_item, qty),)), TradeSide(b, (ItemLine(b_item, qty),))
    )


@pytest.mark.parametrize("fee_bps", [0, 300])
def test_outcome_json_is_the_outcome_document(
    tmp_path: Path, catalog: Catalog, fee_bps: int
) -> None:
    store = SQLiteStore(tmp_path / "s.db", catalog)
    store.trade_fee_bps = fee_bps
    ids = add_players(store, 3 * len(catalog.classes))
    gen = TradeGenerator(7, snapshot(store))
    assert len(ids) == 30
    outcomes = []
    for _ in range(400):
        outcomes.append(store.execute_trade(gen.next()))
        gen.observe(outcomes[-1])
    assert {o.status for o in outcomes} == {"accepted", "rejected"}
    fees = [o.fee_1 + o.fee_2 for o in outcomes if isinstance(o, Accepted)]
    assert any(fees) == bool(fee_bps)
    for outcome in outcomes:
        assert outcome_json(outcome) == orjson.dumps(outcome.to_document())
        event = trade_event(catalog, outcome, event_id=str(uuid.uuid4()))
        assert trade_outbox_row(catalog, outcome, event.event_id) == outbox_row(event)
        assert store.get_trade(outcome.trade_id) == outcome


def test_a_trade_sees_what_another_connection_wrote(
    traders: tuple[SQLiteStore, int, int], catalog: Catalog
) -> None:
    mine, a, b = traders
    theirs = SQLiteStore(mine.path, catalog)
    first = mine.execute_trades([(_swap(a, b, 5, 1), None)])[0]  # both now cached by `mine`
    assert isinstance(first, Accepted)
    theirs.execute_trade(_swap(a, b, 5, 1, qty=3))
    after = mine.execute_trades([(_swap(a, b, 5, 1), None)])[0]
    assert isinstance(after, Accepted)
    assert after.player_1.version == 4 and after.player_2.version == 4  # gap-free
    assert after.player_1.items[1] == 5 and after.player_1.items[5] == 495
    assert mine.get_player(a) == after.player_1 == theirs.get_player(a)


def test_a_rolled_back_batch_leaves_nothing_cached(
    traders: tuple[SQLiteStore, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, a, b = traders
    store.execute_trades([(_swap(a, b, 5, 1), None)])

    from bazaar.store import sqlite_batch

    def broken_flush(self: sqlite_batch.TradeBatch) -> None:
        raise RuntimeError("disk went away")

    with monkeypatch.context() as patch:
        patch.setattr(sqlite_batch.TradeBatch, "flush", broken_flush)
        with pytest.raises(RuntimeError):
            store.execute_trades([(_swap(a, b, 5, 1, qty=10), None)])
    outcome = store.execute_trades([(_swap(a, b, 5, 1), None)])[0]
    assert isinstance(outcome, Accepted)
    assert outcome.player_1.version == 3 and outcome.player_1.items[5] == 498
    assert store.get_player(a) == outcome.player_1


def test_trade_instants_follow_the_clock_and_never_repeat(
    traders: tuple[SQLiteStore, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, a, b = traders
    calls = [(_swap(a, b, 5, 1), None)] * 3
    first = store.execute_trades(calls)
    now = datetime.now(UTC)
    assert all(
        abs(datetime.fromisoformat(o.executed_at.replace("Z", "+00:00")) - now)  # type: ignore[union-attr]
        < timedelta(seconds=5)
        for o in first
    )
    from bazaar.store import sqlite_batch

    # A clock that stands still an hour past the last instant handed out, then steps back
    # an hour: derived from the run's own instants, so the test holds on any date.
    last = instant_micros(first[-1].executed_at)  # type: ignore[union-attr]
    stuck = (last + 3600 * 10**6) * 1000 + 123_000
    monkeypatch.setattr(sqlite_batch.time, "time_ns", lambda: stuck)  # type: ignore[attr-defined]
    standing = [o.executed_at for o in store.execute_trades(calls)]  # type: ignore[union-attr]
    base = stuck // 1000
    assert [instant_micros(t) for t in standing] == [base, base + 1, base + 2]
    assert standing == sorted(standing) and standing[0] > first[-1].executed_at  # type: ignore[union-attr]
    stuck -= 3600 * 10**9
    after = [o.executed_at for o in store.execute_trades(calls)]  # type: ignore[union-attr]
    assert [instant_micros(t) for t in after] == [base + 3, base + 4, base + 5]
    assert after == sorted(after) and len(set(standing + after)) == 6


def test_a_batch_draws_as_many_event_ids_as_it_has_trades(
    traders: tuple[SQLiteStore, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids come from one urandom call per batch; a one-trade batch (HTTP under light load,
    an offer accepted) must not draw hundreds it throws away."""
    store, a, b = traders
    from bazaar.store import sqlite_batch

    drawn: list[int] = []
    real = sqlite_batch.new_event_ids

    def counting(count: int) -> list[str]:
        drawn.append(count)
        return real(count)

    monkeypatch.setattr(sqlite_batch, "new_event_ids", counting)
    store.execute_trade(_swap(a, b, 5, 1))
    store.execute_trades([(_swap(a, b, 5, 1), None)] * 3)
    assert drawn == [1, 3]
    events = [e for e in store.read_outbox() if e.event_type == "trade_accepted"]
    assert len({e.event_id for e in events}) == len(events) == 4
