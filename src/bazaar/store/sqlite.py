"""The embedded store: one SQLite file in WAL mode, safe for many threads and processes.

Every write runs inside `BEGIN IMMEDIATE`, which takes SQLite's single write lock up front:
writers are serialised by the database itself (across threads AND processes), so reading
both players, applying the rules and writing states + outbox row see one consistent
snapshot. Because writers are serialised, outbox `seq` order is commit order.
"""

from __future__ import annotations

import sqlite3
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows has no flock; SQLite's own lock still serialises writers
    fcntl = None

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import (
    ArchivedTrade,
    BazaarError,
    IdempotencyKeyReused,
    StoreUnavailable,
    UnknownPlayer,
    UnknownTrade,
)
from bazaar.domain.events import player_created
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest, starting_state
from bazaar.domain.model import resolve_class as _resolve_class
from bazaar.domain.trading import TradeOutcome, outcome_from_document
from bazaar.store.base import (
    Idempotency,
    Store,
    StoreCapabilities,
    TradeCall,
)
from bazaar.store.sqlite_batch import TradeBatch
from bazaar.store.sqlite_database import SQLiteDatabase
from bazaar.store.sqlite_economy import ADJUSTMENTS_SCHEMA, SQLiteEconomy
from bazaar.store.sqlite_offers import OFFERS_SCHEMA, SQLiteOffers
from bazaar.store.sqlite_outbox import OUTBOX_SCHEMA, SQLiteOutbox, upgrade_consumers
from bazaar.store.sqlite_retention import RETENTION_SCHEMA, SQLiteRetention
from bazaar.store.sqlite_transaction import (
    PLAYER_COLUMNS,
    encode_items,
    row_to_state,
    upgrade_players,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS players (
    player_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT NOT NULL,
    player_class TEXT NOT NULL,
    gold         INTEGER NOT NULL CHECK (gold >= 0),
    items        TEXT NOT NULL,
    capacity     INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    held_gold    INTEGER NOT NULL DEFAULT 0,  -- escrow: held by open offers
    held_items   TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS trades (
    trade_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    status      TEXT NOT NULL,
    executed_at TEXT NOT NULL,
    outcome     BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id    TEXT NOT NULL,
    event_type  TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    key         TEXT NOT NULL,
    body        BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    result      BLOB NOT NULL,
    expires_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` or `sqlite:////absolute.db` (SQLAlchemy's convention)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///PATH.db)")
    return Path(url[len(prefix) :])


class SQLiteStore(SQLiteOutbox, SQLiteRetention, SQLiteOffers, SQLiteEconomy, Store):
    # Connections and the writer lock are per process (see SQLiteDatabase.connection).
    capabilities = StoreCapabilities(forkable=True)

    def __init__(self, path: str | Path, catalog: Catalog, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.catalog = catalog
        # What every part (outbox, retention, offers, economy) reaches SQLite through: no
        # part calls another part's or this class's private methods.
        self.db = SQLiteDatabase(self.path, synchronous)
        try:
            db = self.db.connection()
            db.executescript(
                _SCHEMA + OFFERS_SCHEMA + OUTBOX_SCHEMA + RETENTION_SCHEMA + ADJUSTMENTS_SCHEMA
            )
            upgrade_consumers(db)
            upgrade_players(db)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot prepare {self.path}: {exc}") from exc

    @classmethod
    def from_url(cls, url: str, catalog: Catalog) -> SQLiteStore:
        return cls(sqlite_path(url), catalog)

    # -- writes --------------------------------------------------------------------------

    def create_player(self, new: NewPlayer, idempotency: Idempotency | None = None) -> PlayerState:
        pc = _resolve_class(self.catalog, new.player_class)
        with self.db.transaction(self.idempotency_ttl) as tx:
            db = tx.db
            seen = tx.claimed(idempotency)
            if seen is not None:
                return PlayerState.from_document(orjson.loads(seen))
            created_at = tx.now()
            (player_id,) = db.execute(
                "INSERT INTO players (username, player_class, gold, items, capacity, version,"
                " created_at) VALUES ('', ?, 0, '{}', 0, 0, ?) RETURNING player_id",
                (pc.name, created_at),
            ).fetchone()
            state = starting_state(pc, player_id, new.username, created_at)
            db.execute(
                "UPDATE players SET username = ?, gold = ?, items = ?, capacity = ?, version = ?"
                " WHERE player_id = ?",
                (
                    state.username,
                    state.gold,
                    encode_items(state.items),
                    state.capacity,
                    state.version,
                    player_id,
                ),
            )
            tx.append(player_created(self.catalog, state, event_id=str(uuid.uuid4())))
            tx.remember(idempotency, orjson.dumps(state.to_document()))
            return state

    def execute_trade(
        self, request: TradeRequest, idempotency: Idempotency | None = None
    ) -> TradeOutcome:
        with self.db.transaction(self.idempotency_ttl) as tx:
            batch = TradeBatch(tx, 1, self.catalog, self.trade_fee_bps)
            outcome = batch.trade(request, idempotency)
            batch.flush()
            return outcome

    def execute_trades(self, calls: Sequence[TradeCall]) -> list[TradeOutcome | BazaarError]:
        """Group commit: many trades, one SQLite transaction. Each trade still sees the
        states the previous one left, exactly as if run one by one; a refused call (unknown
        player, reused key) writes nothing and does not disturb its neighbours."""
        results: list[TradeOutcome | BazaarError] = []
        with self.db.transaction(self.idempotency_ttl) as tx:
            batch = TradeBatch(tx, len(calls), self.catalog, self.trade_fee_bps)
            for request, idempotency in calls:
                try:
                    results.append(batch.trade(request, idempotency))
                except (UnknownPlayer, IdempotencyKeyReused) as refused:
                    results.append(refused)
            batch.flush()
        return results

    # -- reads ---------------------------------------------------------------------------

    def get_player(self, player_id: int) -> PlayerState:
        rows = self.db.read(
            f"SELECT {PLAYER_COLUMNS} FROM players WHERE player_id = ?", (player_id,)
        )
        if not rows:
            raise UnknownPlayer(player_id)
        return row_to_state(rows[0])

    def players(self) -> list[PlayerState]:
        rows = self.db.read(f"SELECT {PLAYER_COLUMNS} FROM players ORDER BY player_id")
        return [row_to_state(r) for r in rows]

    def player_ids(self) -> list[int]:
        return [int(r[0]) for r in self.db.read("SELECT player_id FROM players ORDER BY player_id")]

    def get_trade(self, trade_id: int) -> TradeOutcome:
        rows = self.db.read("SELECT outcome FROM trades WHERE trade_id = ?", (trade_id,))
        if not rows:
            if 0 < trade_id <= self.archived().trades:
                raise ArchivedTrade(trade_id)
            raise UnknownTrade(trade_id)
        return outcome_from_document(orjson.loads(rows[0][0]))

    def ping(self) -> None:
        self.db.read("SELECT 1")

    def close(self) -> None:
        self.db.close()
