"""One SQLite write transaction as a unit of work: what the trade path, offers and player
creation read and write through it.

The store opens it (`BEGIN IMMEDIATE`, so nobody else writes until it commits) and hands it
to whoever writes: a `TradeBatch`, an offer step, a new player. Everything here runs inside
that transaction, so what it reads stays true until the commit.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from bazaar.codec import encode_event
from bazaar.domain.clock import next_instant
from bazaar.domain.errors import UnknownPlayer
from bazaar.domain.events import Event
from bazaar.domain.model import PlayerState
from bazaar.store.trading import Idempotency

OUTBOX_INSERT = (
    "INSERT INTO outbox (event_id, event_type, occurred_at, key, body) VALUES (?, ?, ?, ?, ?)"
)
PLAYER_COLUMNS = (
    "player_id, username, player_class, gold, items, capacity, version, created_at,"
    " held_gold, held_items"
)
PLAYER_SAVE = (
    "UPDATE players SET gold = ?, items = ?, version = ?, held_gold = ?, held_items = ?"
    " WHERE player_id = ?"
)
_NO_ITEMS = (b"{}", "{}")
_PURGE_EVERY = 2048  # idempotency records remembered between two purges of expired ones
CACHED_PLAYERS = 200_000  # beyond this many states the cache starts over (memory bound)


def row_to_state(row: tuple[Any, ...]) -> PlayerState:
    # `items` is orjson's bytes (stored as a BLOB in the TEXT column); text if written by hand.
    player_id, username, player_class, gold, items, capacity, version, created_at = row[:8]
    held_gold, held_items = row[8:]
    return PlayerState(
        player_id,
        username,
        player_class,
        gold,
        {int(k): v for k, v in orjson.loads(items).items()},
        capacity,
        version,
        created_at,
        held_gold,
        {} if held_items in _NO_ITEMS else {int(k): v for k, v in orjson.loads(held_items).items()},
    )


def encode_items(items: Any) -> bytes:
    """A player's items column: {"item_id": quantity} in numeric item order."""
    return orjson.dumps(dict(sorted(items.items())), option=orjson.OPT_NON_STR_KEYS)


def player_row(state: PlayerState) -> tuple[int, bytes, int, int, bytes, int]:
    """PLAYER_SAVE's parameters for `state`."""
    held = state.held_items
    return (
        state.gold,
        encode_items(state.items),
        state.version,
        state.held_gold,
        encode_items(held) if held else b"{}",
        state.player_id,
    )


def upgrade_players(db: sqlite3.Connection) -> None:
    """Escrow columns for a database made before them (held goods: none)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(players)")}
    if "held_gold" not in columns:
        db.execute("ALTER TABLE players ADD COLUMN held_gold INTEGER NOT NULL DEFAULT 0")
    if "held_items" not in columns:
        db.execute("ALTER TABLE players ADD COLUMN held_items TEXT NOT NULL DEFAULT '{}'")


def outbox_row(event: Event) -> tuple[str, str, str, str, bytes]:
    """The outbox row of an event; `body` is exactly what relay and ingest will read."""
    return (event.event_id, event.event_type, event.occurred_at, event.key, encode_event(event))


class PlayerCache:
    """Player states as of this connection's last commit, valid while nobody else wrote.

    `PRAGMA data_version` changes when ANOTHER connection (thread or process) commits and
    never for this connection's own commits. Read inside a write transaction, an unchanged
    value means every cached state is still what the database holds. States written by a
    transaction join the cache only when it commits; a rollback empties it.
    """

    def __init__(self) -> None:
        self.states: dict[int, PlayerState] = {}
        self.pending: dict[int, PlayerState] = {}
        self._version: int | None = None

    def begin(self, db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA data_version").fetchone()
        if version != self._version:
            self.states.clear()
            self._version = version
        self.pending.clear()

    def committed(self) -> None:
        if len(self.states) + len(self.pending) > CACHED_PLAYERS:
            self.states.clear()
        self.states.update(self.pending)
        self.pending.clear()

    def discard(self) -> None:
        self.states.clear()
        self.pending.clear()
        self._version = None


class SQLiteTransaction:
    """An open write transaction on `db`, with this connection's player cache."""

    def __init__(
        self, db: sqlite3.Connection, cache: PlayerCache, idempotency_ttl: int, ops: Iterator[int]
    ) -> None:
        self.db = db
        self.cache = cache
        self._ttl = idempotency_ttl
        self._ops = ops  # the store's count of remembered keys, for the periodic purge

    def load(self, player_id: int) -> PlayerState:
        row = self.db.execute(
            f"SELECT {PLAYER_COLUMNS} FROM players WHERE player_id = ?", (player_id,)
        ).fetchone()
        if row is None:
            raise UnknownPlayer(player_id)
        return row_to_state(row)

    def player(self, player_id: int) -> PlayerState:
        """The player's state in this transaction: what an earlier step of it wrote, the
        connection's cache (valid: `begin` checked), or the database."""
        cache = self.cache
        state = cache.pending.get(player_id) or cache.states.get(player_id)
        return state if state is not None else self.load(player_id)

    def save(self, state: PlayerState) -> None:
        """Write a player's state (and its escrow); the cache learns it at commit."""
        self.db.execute(PLAYER_SAVE, player_row(state))
        self.cache.pending[state.player_id] = state

    def last_instant(self) -> str | None:
        # The newest outbox row holds the last instant handed out; `meta` keeps it only
        # once release_outbox has emptied the outbox, so the hot path writes nothing extra.
        db = self.db
        row = db.execute("SELECT occurred_at FROM outbox ORDER BY seq DESC LIMIT 1").fetchone()
        if row is None:
            row = db.execute("SELECT value FROM meta WHERE name = 'clock'").fetchone()
        return row[0] if row else None

    def now(self) -> str:
        return next_instant(datetime.now(UTC), self.last_instant())

    def append(self, event: Event) -> None:
        self.db.execute(OUTBOX_INSERT, outbox_row(event))

    def claimed(self, idem: Idempotency | None) -> bytes | None:
        """The stored result for a key seen before with the same body, else None."""
        if idem is None:
            return None
        row = self.db.execute(
            "SELECT fingerprint, result FROM idempotency WHERE key = ? AND expires_at > ?",
            (idem.key, time.time()),
        ).fetchone()
        if row is None:
            return None
        if row[0] != idem.fingerprint:
            raise idem.reused()
        return bytes(row[1])

    def remember(self, idem: Idempotency | None, result: bytes) -> None:
        if idem is None:
            return
        now = time.time()
        self.db.execute(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, result, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (idem.key, idem.fingerprint, result, now + self._ttl),
        )
        if next(self._ops) % _PURGE_EVERY == 0:
            self.db.execute("DELETE FROM idempotency WHERE expires_at < ?", (now,))
