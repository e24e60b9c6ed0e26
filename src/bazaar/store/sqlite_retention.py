"""The retained-records port for the SQLite store (a part of SQLiteStore): retention marks,
dropping trade records, resolved offers and grant / consumption records once old enough,
and giving the space back.

Deletes run in slices of ids, each its own short write transaction: the write lock is the
trade path's too, so a sweep never holds it for more than a few milliseconds at a time.
Freed pages go to SQLite's free list, which new rows reuse; with `auto_vacuum=INCREMENTAL`
(set on every file this store creates) `compact` also truncates most of them off the file,
so it shrinks after a burst. A file created before that setting keeps its size (freed pages
are still reused, so it stops growing); `bazaar outbox vacuum` converts it once, offline.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bazaar.domain.clock import EPOCH, format_instant, instant_micros
from bazaar.store.retained import Archived, RetentionMark
from bazaar.store.sqlite_database import SQLiteDatabase
from bazaar.store.sqlite_outbox import meta_int, set_meta

RETENTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS retention_marks (
    at     REAL PRIMARY KEY,
    outbox INTEGER NOT NULL,
    trade  INTEGER NOT NULL,
    offer  INTEGER NOT NULL,
    clock  INTEGER NOT NULL
);
"""

_SLICE = 5_000  # ids per write transaction
_KEEP_FREE = 0.05  # share of the file's pages left free for new rows to reuse


def _head(db: sqlite3.Connection, table: str) -> int:
    row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return int(row[0]) if row else 0


class SQLiteRetention:
    """The retention half of SQLiteStore; reaches SQLite through the store's SQLiteDatabase."""

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: SQLiteDatabase
        idempotency_ttl: int

    def add_retention_mark(self, at: float) -> RetentionMark:
        with self.db.transaction(self.idempotency_ttl) as tx:
            db = tx.db
            last = tx.last_instant()
            mark = RetentionMark(
                at,
                _head(db, "outbox"),
                _head(db, "trades"),
                _head(db, "offers"),
                instant_micros(last) if last else 0,
            )
            db.execute(
                "INSERT OR REPLACE INTO retention_marks (at, outbox, trade, offer, clock)"
                " VALUES (?, ?, ?, ?, ?)",
                (mark.at, mark.outbox, mark.trade, mark.offer, mark.clock),
            )
            return mark

    def retention_mark(self, before: float) -> RetentionMark | None:
        rows = self.db.read(
            "SELECT at, outbox, trade, offer, clock FROM retention_marks WHERE at <= ?"
            " ORDER BY at DESC LIMIT 1",
            (before,),
        )
        return RetentionMark(*rows[0]) if rows else None

    def prune_retention_marks(self, before: float) -> None:
        newest = self.retention_mark(before)
        if newest is not None:
            with self.db.write() as db:
                db.execute("DELETE FROM retention_marks WHERE at < ?", (newest.at,))

    def drop_trades(self, mark: RetentionMark, budget: int) -> int:
        passed = 0
        while passed < budget:
            with self.db.write() as db:
                start = meta_int(db, "trades_archived")
                upto = min(mark.trade, start + _SLICE, start + budget - passed)
                if upto <= start:
                    break
                db.execute("DELETE FROM trades WHERE trade_id <= ?", (upto,))
                db.execute(
                    "DELETE FROM player_history WHERE kind = 'trade' AND ref_id <= ?", (upto,)
                )
                set_meta(db, "trades_archived", upto)
                passed += upto - start
        return passed

    def drop_offers(self, mark: RetentionMark, budget: int) -> int:
        with self.db.write() as db:
            start = meta_int(db, "offers_archived")
            upto = min(mark.offer, start + budget)
            # Offers still open at or below the mark stay (and are looked at again by every
            # later sweep) until they resolve.
            dropped = [
                row[0]
                for row in db.execute(
                    "DELETE FROM offers WHERE offer_id <= ? AND status != 'open'"
                    " RETURNING offer_id",
                    (upto,),
                )
            ]
            db.executemany(
                "DELETE FROM player_history WHERE kind = 'offer' AND ref_id = ?",
                [(oid,) for oid in dropped],
            )
            if upto > start:
                set_meta(db, "offers_archived", upto)
            return len(dropped)

    def drop_adjustments(self, mark: RetentionMark, budget: int) -> int:
        # Adjustment ids grow with their instants (one writer), so the old ones are a prefix
        # of the ids: each slice reads at most _SLICE rows past the last one dropped and
        # deletes those at or before the mark's clock (the table has no index on `at`, and
        # needs none: a sweep never reads more than a slice of the kept ones).
        if not mark.clock:
            return 0
        cutoff = format_instant(EPOCH + timedelta(microseconds=mark.clock))
        dropped = 0
        while dropped < budget:
            with self.db.write() as db:
                start = meta_int(db, "adjustments_archived")
                old = db.execute(
                    "SELECT max(adjustment_id), count(*) FROM (SELECT adjustment_id, at"
                    " FROM adjustments WHERE adjustment_id > ? ORDER BY adjustment_id"
                    " LIMIT ?) WHERE at <= ?",
                    (start, min(_SLICE, budget - dropped), cutoff),
                ).fetchone()
                upto, n = int(old[0] or 0), int(old[1])
                if n == 0:
                    break
                db.execute("DELETE FROM adjustments WHERE adjustment_id <= ?", (upto,))
                set_meta(db, "adjustments_archived", upto)
                dropped += n
        return dropped

    def archived(self) -> Archived:
        rows = self.db.read(
            "SELECT name, value FROM meta WHERE name IN ('trades_archived', 'offers_archived')"
        )
        found = {name: int(value) for name, value in rows}
        return Archived(found.get("trades_archived", 0), found.get("offers_archived", 0))

    def compact(self) -> None:
        """Truncate free pages off the file, leaving a few for new rows (incremental vacuum
        moves pages, so it runs only once a tenth of the file is free)."""
        rows = self.db.read("PRAGMA auto_vacuum")
        if not rows or int(rows[0][0]) != 2:  # 2 = INCREMENTAL
            return
        pages = int(self.db.read("PRAGMA page_count")[0][0])
        free = int(self.db.read("PRAGMA freelist_count")[0][0])
        if free < max(1024, pages // 10):
            return
        give_back = free - int(pages * _KEEP_FREE)
        with self.db.writer_turn():
            # executescript steps the pragma to the end (execute() frees one page per step).
            self.db.connection().executescript(f"PRAGMA incremental_vacuum({give_back});")

    def retention_warning(self) -> str | None:
        rows = self.db.read("PRAGMA auto_vacuum")
        if rows and int(rows[0][0]) == 0:
            return (
                "this SQLite file predates incremental vacuum: released space is reused but"
                " the file never shrinks. `bazaar outbox vacuum` converts it (offline)."
            )
        return None


def enable_incremental_vacuum(path: Path) -> tuple[int, int]:
    """Switch an existing file to auto_vacuum=INCREMENTAL (takes a VACUUM, which rewrites
    the file: run it with nothing else using the store). Sizes before and after."""
    before = _size(path)
    conn = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    try:
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return before, _size(path)


def _size(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
