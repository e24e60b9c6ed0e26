"""The embedded store: one SQLite file in WAL mode, safe for many threads and processes.

Every write runs inside `BEGIN IMMEDIATE`, which takes SQLite's single write lock up front:
writers are serialised by the database itself (across threads AND processes), so reading
both players, applying the rules and writing states + outbox row see one consistent
snapshot. Because writers are serialised, outbox `seq` order is commit order.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
from bazaar.store.sqlite_economy import ADJUSTMENTS_SCHEMA, SQLiteEconomy
from bazaar.store.sqlite_offers import OFFERS_SCHEMA, SQLiteOffers
from bazaar.store.sqlite_outbox import OUTBOX_SCHEMA, SQLiteOutbox, upgrade_consumers
from bazaar.store.sqlite_retention import RETENTION_SCHEMA, SQLiteRetention
from bazaar.store.sqlite_transaction import (
    PLAYER_COLUMNS,
    PlayerCache,
    SQLiteTransaction,
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
    # Connections and the writer lock are per process (see _db).
    capabilities = StoreCapabilities(forkable=True)

    def __init__(self, path: str | Path, catalog: Catalog, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.catalog = catalog
        self._synchronous = synchronous
        self._local = threading.local()
        self._ops = itertools.count(1)
        self._thread_turn = threading.Lock()
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._db()
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

    # -- connections ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        # One connection per thread and per process: sqlite3 connections must not cross
        # threads, and a connection inherited through fork() must never be used.
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or getattr(self._local, "pid", None) != os.getpid():
            try:
                conn = sqlite3.connect(
                    self.path, timeout=60.0, isolation_level=None, check_same_thread=False
                )
                if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                    # A new file: let the retention sweep give freed pages back to the file
                    # system (sqlite_retention.py). Only possible before the first table,
                    # and before WAL mode writes the header.
                    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
                conn.execute("PRAGMA journal_mode=WAL")
                # The WAL file shrinks back to this after checkpoints instead of keeping
                # its largest size for ever.
                conn.execute("PRAGMA journal_size_limit=67108864")
                conn.execute(f"PRAGMA synchronous={self._synchronous}")
                conn.execute("PRAGMA foreign_keys=ON")
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            self._local.pid = os.getpid()
            self._local.cache = PlayerCache()
        return conn

    def _cache(self) -> PlayerCache:
        cache: PlayerCache = self._local.cache  # set with the connection by _db()
        return cache

    def _writer_lock_fd(self) -> int:
        if self._lock_fd is None or self._lock_pid != os.getpid():
            self._lock_fd = os.open(f"{self.path}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
            self._lock_pid = os.getpid()
        return self._lock_fd

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """Queue writers in the kernel before they reach SQLite's lock.

        SQLite's busy handler polls with sleeps of 1 ms growing to 100 ms, which turns two
        processes contending for the write lock into long latency tails. A blocking flock()
        wakes the next writer the moment the lock is free. SQLite's own lock still provides
        correctness; this only orders the queue (and is skipped where flock is missing).
        """
        with self._thread_turn:
            if fcntl is None:
                yield
                return
            fd = self._writer_lock_fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def _transaction(self) -> Iterator[SQLiteTransaction]:
        """A write transaction as a unit of work (the trade path, offers, new players)."""
        with self._write() as db:
            yield SQLiteTransaction(db, self._cache(), self.idempotency_ttl, self._ops)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._writer_turn():
            db = self._db()
            cache = self._cache()
            try:
                db.execute("BEGIN IMMEDIATE")
                cache.begin(db)
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise StoreUnavailable(f"database busy or unavailable: {exc}") from exc
            try:
                yield db
                db.execute("COMMIT")
                cache.committed()
            except BaseException as exc:
                cache.discard()
                if db.in_transaction:
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreUnavailable(f"store write failed: {exc}") from exc
                raise

    # -- writes --------------------------------------------------------------------------

    def create_player(self, new: NewPlayer, idempotency: Idempotency | None = None) -> PlayerState:
        pc = _resolve_class(self.catalog, new.player_class)
        with self._transaction() as tx:
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
        with self._transaction() as tx:
            batch = TradeBatch(tx, 1, self.catalog, self.trade_fee_bps)
            outcome = batch.trade(request, idempotency)
            batch.flush()
            return outcome

    def execute_trades(self, calls: Sequence[TradeCall]) -> list[TradeOutcome | BazaarError]:
        """Group commit: many trades, one SQLite transaction. Each trade still sees the
        states the previous one left, exactly as if run one by one; a refused call (unknown
        player, reused key) writes nothing and does not disturb its neighbours."""
        results: list[TradeOutcome | BazaarError] = []
        with self._transaction() as tx:
            batch = TradeBatch(tx, len(calls), self.catalog, self.trade_fee_bps)
            for request, idempotency in calls:
                try:
                    results.append(batch.trade(request, idempotency))
                except (UnknownPlayer, IdempotencyKeyReused) as refused:
                    results.append(refused)
            batch.flush()
        return results

    # -- reads ---------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"store read failed: {exc}") from exc

    def get_player(self, player_id: int) -> PlayerState:
        rows = self._read(f"SELECT {PLAYER_COLUMNS} FROM players WHERE player_id = ?", (player_id,))
        if not rows:
            raise UnknownPlayer(player_id)
        return row_to_state(rows[0])

    def players(self) -> list[PlayerState]:
        rows = self._read(f"SELECT {PLAYER_COLUMNS} FROM players ORDER BY player_id")
        return [row_to_state(r) for r in rows]

    def player_ids(self) -> list[int]:
        return [int(r[0]) for r in self._read("SELECT player_id FROM players ORDER BY player_id")]

    def get_trade(self, trade_id: int) -> TradeOutcome:
        rows = self._read("SELECT outcome FROM trades WHERE trade_id = ?", (trade_id,))
        if not rows:
            if 0 < trade_id <= self.archived().trades:
                raise ArchivedTrade(trade_id)
            raise UnknownTrade(trade_id)
        return outcome_from_document(orjson.loads(rows[0][0]))

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
        if self._lock_fd is not None and self._lock_pid == os.getpid():
            os.close(self._lock_fd)
            self._lock_fd = None
