"""Lakes for analytics tests, built the way production builds them: a real store records
players and trades, and the real ingest lands its outbox in Delta tables. `forge_rows`
appends rows that no correct store would produce (a duplication bug), by the lake contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from bazaar.domain.model import ItemLine, NewPlayer, PlayerState, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.lake.ingest import Ingest
from bazaar.lake.sources import OutboxSource
from bazaar.lake.tables import SCHEMAS, to_arrow
from bazaar.lake.writer import LakeWriter
from bazaar.store.base import Store


def ingest(store: Store, lake: Path) -> None:
    """Drain the store's outbox into the lake (the store stays open)."""
    with LakeWriter(lake) as writer:
        writer.open()
        Ingest(OutboxSource(store), writer, flush_seconds=0.0).run()


def player(store: Store, player_class: str, username: str) -> PlayerState:
    return store.create_player(NewPlayer(player_class, username))


Lines = Sequence[tuple[int, int]]  # (item_id, quantity)


def trade(
    store: Store,
    giver: int,
    taker: int,
    *,
    items_1: Lines = (),
    gold_1: int = 0,
    items_2: Lines = (),
    gold_2: int = 0,
) -> TradeOutcome:
    """Player `giver` (player_1) gives items_1/gold_1, `taker` (player_2) gives items_2/gold_2."""
    request = TradeRequest(
        TradeSide(giver, tuple(ItemLine(i, q) for i, q in items_1), gold_1),
        TradeSide(taker, tuple(ItemLine(i, q) for i, q in items_2), gold_2),
    )
    return store.execute_trade(request)


def accepted(outcome: TradeOutcome) -> Accepted:
    assert isinstance(outcome, Accepted), outcome
    return outcome


def forge_rows(lake: Path, table: str, rows: Iterable[tuple[object, ...]]) -> None:
    """Append contract rows (tuples in schema order, timestamps in epoch microseconds)."""
    data: pa.Table = to_arrow(table, list(rows))
    assert data.schema == SCHEMAS[table]
    write_deltalake(str(lake / table), data, mode="append")
    DeltaTable(str(lake / table))  # still readable
