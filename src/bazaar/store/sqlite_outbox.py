"""The outbox reader port for the SQLite store (a part of SQLiteStore): reading the outbox,
consumer positions, and releasing what every registered consumer has passed.

A release is one write transaction (the store's single write lock): the lowest recorded
position is read, the rows below it deleted and the released mark (`meta.outbox_released`)
moved together, so a consumer registering meanwhile is either counted or finds its entries
released and stops (OutboxReleased).
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

from bazaar.store.outbox import ConsumerPosition, OutboxEntry
from bazaar.store.sqlite_database import SQLiteDatabase

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS consumers (
    name    TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL,
    seen_at REAL NOT NULL DEFAULT 0
);
"""


def upgrade_consumers(db: sqlite3.Connection) -> None:
    """Files written before consumers were timed lack `seen_at`: add it (0: never seen, so
    such a consumer shows as stale until it records again)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(consumers)")}
    if "seen_at" not in columns:
        db.execute("ALTER TABLE consumers ADD COLUMN seen_at REAL NOT NULL DEFAULT 0")


def meta_int(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
    return int(row[0]) if row else 0


def set_meta(db: sqlite3.Connection, name: str, value: object) -> None:
    db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, str(value)))


class SQLiteOutbox:
    """The outbox half of SQLiteStore; reaches SQLite through the store's SQLiteDatabase."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: SQLiteDatabase
        idempotency_ttl: int

    def read_outbox(self, after: int = 0, limit: int = 1000) -> list[OutboxEntry]:
        rows = self.db.read(
            "SELECT seq, event_id, event_type, occurred_at, key, body FROM outbox"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [OutboxEntry(*r) for r in rows]

    def read_outbox_bodies(self, after: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        return self.db.read(
            "SELECT seq, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
        )

    def outbox_head(self) -> int:
        rows = self.db.read("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'")
        return int(rows[0][0]) if rows else 0

    def outbox_released(self) -> int:
        rows = self.db.read("SELECT value FROM meta WHERE name = 'outbox_released'")
        return int(rows[0][0]) if rows else 0

    def release_outbox(self, upto: int) -> int:
        with self.db.write() as db:
            (lowest,) = db.execute("SELECT min(seq) FROM consumers").fetchone()
            released = meta_int(db, "outbox_released")
            if lowest is None or min(upto, lowest) <= released:
                return 0
            upto = min(upto, lowest)
            # The newest instant handed out stays known once the outbox is empty (_now).
            db.execute(
                "INSERT OR REPLACE INTO meta (name, value)"
                " SELECT 'clock', occurred_at FROM outbox ORDER BY seq DESC LIMIT 1"
            )
            set_meta(db, "outbox_released", upto)
            return int(db.execute("DELETE FROM outbox WHERE seq <= ?", (upto,)).rowcount)

    def consumer_position(self, consumer: str) -> int:
        rows = self.db.read("SELECT seq FROM consumers WHERE name = ?", (consumer,))
        return int(rows[0][0]) if rows else 0

    def commit_position(self, consumer: str, seq: int) -> None:
        with self.db.write() as db:
            db.execute(
                "INSERT INTO consumers (name, seq, seen_at) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, seen_at = excluded.seen_at",
                (consumer, seq, time.time()),
            )

    def consumers(self) -> list[ConsumerPosition]:
        rows = self.db.read("SELECT name, seq, seen_at FROM consumers ORDER BY name")
        return [ConsumerPosition(name, int(seq), float(seen)) for name, seq, seen in rows]

    def drop_consumer(self, consumer: str) -> bool:
        with self.db.write() as db:
            return db.execute("DELETE FROM consumers WHERE name = ?", (consumer,)).rowcount > 0
