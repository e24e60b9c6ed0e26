"""The embedded store: one SQLite file in WAL mode, safe for many threads and processes.

Every write runs inside `BEGIN IMMEDIATE`, which takes SQLite's single write lock up front:
writers are serialised by the database itself (across threads AND processes), so reading
both players, applying the rules and writing states + outbox row see one consistent
snapshot. Because writers are serialised, outbox `seq` order is commit order.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

if sys.platform != "win32":
    import fcntl
else:  # pragma: no cover - Windows has no flock; SQLite's own lock still serialises writers
    fcntl = None

from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import next_instant
from bazaar.domain.errors import (
    ArchivedTrade,
    BazaarError,
    IdempotencyKeyReused,
    StoreUnavailable,
    UnknownPlayer,
    UnknownTrade,
)
from bazaar.domain.events import Event, player_created
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest, starting_state
from bazaar.domain.model import resolve_class as _resolve_class
from bazaar.domain.trading import Accepted, TradeOutcome, execute_trade, outcome_from_document
from bazaar.store.base import (
    Idempotency,
    Store,
    TradeCall,
)
from bazaar.store.sqlite_batch import (
    OUTBOX_INSERT,
    PlayerCache,
    TradeBatch,
    encode_items,
    outbox_row,
    outcome_json,
    trade_outbox_row,
)
from bazaar.store.sqlite_offers import OFFERS_SCHEMA, SQLiteOffers
from bazaar.store.sqlite_outbox import OUTBOX_SCHEMA, SQLiteOutbox, upgrade_consumers
from bazaar.store.sqlite_retention import RETENTION_SCHEMA, SQLiteRetention

_SCHEMA = """
CREATE TABLE IF NOT EXISTS players (
    player_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT NOT NULL,
    player_class TEXT NOT NULL,
    gold         INTEGER NOT NULL CHECK (gold >= 0),
    items        TEXT NOT NULL,
    capacity     INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    created_at   TEXT NOT NULL
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

_PURGE_EVERY = 2048


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative.db` or `sqlite:////absolute.db` (SQLAlchemy's convention)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///PATH.db)")
    return Path(url[len(prefix) :])


def _row_to_state(row: tuple[int, str, str, int, bytes | str, int, int, str]) -> PlayerState:
    # `items` is orjson's bytes (stored as a BLOB in the TEXT column); text if written by hand.
    player_id, username, player_class, gold, items, capacity, version, created_at = row
    return PlayerState(
        player_id=player_id,
        username=username,
        player_class=player_class,
        gold=gold,
        items={int(k): v for k, v in orjson.loads(items).items()},
        capacity=capacity,
        version=version,
        created_at=created_at,
    )


_PLAYER_COLUMNS = "player_id, username, player_class, gold, items, capacity, version, created_at"


class SQLiteStore(SQLiteOutbox, SQLiteRetention, SQLiteOffers, Store):
    forkable = True  # connections and the writer lock are per process (see _db)

    def __init__(self, path: str | Path, catalog: Catalog, *, synchronous: str = "NORMAL") -> None:
        self.path = Path(path)
        self.catalog = catalog
        self._synchronous = synchronous
        self._local = threading.local()
        self._ops = 0
        self._thread_turn = threading.Lock()
        self._lock_fd: int | None = None
        self._lock_pid = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._db()
            db.executescript(_SCHEMA + OFFERS_SCHEMA + OUTBOX_SCHEMA + RETENTION_SCHEMA)
            upgrade_consumers(db)
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

    def _last_instant(self, db: sqlite3.Connection) -> str | None:
        # The newest outbox row holds the last instant handed out; `meta` keeps it only
        # once release_outbox has emptied the outbox, so the hot path writes nothing extra.
        row = db.execute("SELECT occurred_at FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            row = db.execute("SELECT value FROM meta WHERE name = 'clock'").fetchone()
        return row[0] if row else None

    def _now(self, db: sqlite3.Connection) -> str:
        return next_instant(datetime.now(UTC), self._last_instant(db))

    def _append(self, db: sqlite3.Connection, event: Event) -> None:
        db.execute(OUTBOX_INSERT, outbox_row(event))

    def _claimed(self, db: sqlite3.Connection, idem: Idempotency | None) -> bytes | None:
        """The stored result for a key seen before with the same body, else None."""
        if idem is None:
            return None
        row = db.execute(
            "SELECT fingerprint, result FROM idempotency WHERE key = ? AND expires_at > ?",
            (idem.key, time.time()),
        ).fetchone()
        if row is None:
            return None
        if row[0] != idem.fingerprint:
            raise idem.reused()
        return bytes(row[1])

    def _remember(self, db: sqlite3.Connection, idem: Idempotency | None, result: bytes) -> None:
        if idem is None:
            return
        now = time.time()
        db.execute(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, result, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (idem.key, idem.fingerprint, result, now + self.idempotency_ttl),
        )
        self._ops += 1
        if self._ops % _PURGE_EVERY == 0:
            db.execute("DELETE FROM idempotency WHERE expires_at < ?", (now,))

    def _load(self, db: sqlite3.Connection, player_id: int) -> PlayerState:
        row = db.execute(
            f"SELECT {_PLAYER_COLUMNS} FROM players WHERE player_id = ?", (player_id,)
        ).fetchone()
        if row is None:
            raise UnknownPlayer(player_id)
        return _row_to_state(row)

    # -- writes --------------------------------------------------------------------------

    def create_player(self, new: NewPlayer, idempotency: Idempotency | None = None) -> PlayerState:
        pc = _resolve_class(self.catalog, new.player_class)
        with self._write() as db:
            seen = self._claimed(db, idempotency)
            if seen is not None:
                return PlayerState.from_document(orjson.loads(seen))
            created_at = self._now(db)
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
            self._append(db, player_created(self.catalog, state, event_id=str(uuid.uuid4())))
            self._remember(db, idempotency, orjson.dumps(state.to_document()))
            return state

    def execute_trade(
        self, request: TradeRequest, idempotency: Idempotency | None = None
    ) -> TradeOutcome:
        with self._write() as db:
            batch = self._batch(db, 1)
            outcome = self._trade_in(batch, request, idempotency)
            batch.flush()
            return outcome

    def execute_trades(self, calls: Sequence[TradeCall]) -> list[TradeOutcome | BazaarError]:
        """Group commit: many trades, one SQLite transaction. Each trade still sees the
        states the previous one left, exactly as if run one by one; a refused call (unknown
        player, reused key) writes nothing and does not disturb its neighbours."""
        results: list[TradeOutcome | BazaarError] = []
        with self._write() as db:
            batch = self._batch(db, len(calls))
            for request, idempotency in calls:
                try:
                    results.append(self._trade_in(batch, request, idempotency))
                except (UnknownPlayer, IdempotencyKeyReused) as refused:
                    results.append(refused)
            batch.flush()
        return results

    def _batch(self, db: sqlite3.Connection, trades: int) -> TradeBatch:
        """The batch of (at most) `trades` trades of the write transaction `db` is in."""
        return TradeBatch(
            db, trades, self._cache(), self._load, self._claimed, self._last_instant,
            self._remember,
        )  # fmt: skip

    def _trade_in(
        self, batch: TradeBatch, request: TradeRequest, idempotency: Idempotency | None
    ) -> TradeOutcome:
        seen = batch.claimed(idempotency)
        if seen is not None:
            return outcome_from_document(orjson.loads(seen))
        p1 = batch.player(request.player_1.player_id)
        p2 = batch.player(request.player_2.player_id)
        outcome = execute_trade(
            self.catalog, request, p1, p2, trade_id=batch.next_trade_id(),
            executed_at=batch.next_instant(),
        )  # fmt: skip
        document = outcome_json(outcome)
        if isinstance(outcome, Accepted):
            batch.changed(outcome.player_1)
            batch.changed(outcome.player_2)
        event = trade_outbox_row(self.catalog, outcome, batch.next_event_id())
        batch.record(outcome, document, event, idempotency)
        return outcome

    # -- reads ---------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"store read failed: {exc}") from exc

    def get_player(self, player_id: int) -> PlayerState:
        rows = self._read(
            f"SELECT {_PLAYER_COLUMNS} FROM players WHERE player_id = ?", (player_id,)
        )
        if not rows:
            raise UnknownPlayer(player_id)
        return _row_to_state(rows[0])

    def players(self) -> list[PlayerState]:
        rows = self._read(f"SELECT {_PLAYER_COLUMNS} FROM players ORDER BY player_id")
        return [_row_to_state(r) for r in rows]

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
