"""Grants and consumptions for the SQLite store (a part of SQLiteStore): one write
transaction (the unit of work, sqlite_transaction.py) applies the domain's rule
(`grants.apply_adjustment`) to the player's state, records the adjustment and its event,
and remembers the idempotency key, or does nothing."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import orjson

from bazaar.domain.catalog import Catalog
from bazaar.domain.grants import Adjusted, Adjustment, adjustment_event, apply_adjustment
from bazaar.store.sqlite_database import SQLiteDatabase
from bazaar.store.trading import Idempotency

ADJUSTMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS adjustments (
    adjustment_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,
    player_id     INTEGER NOT NULL,
    at            TEXT NOT NULL,
    document      BLOB NOT NULL
);
"""


class SQLiteEconomy:
    """The economy half of SQLiteStore; reaches SQLite through the store's SQLiteDatabase."""

    catalog: Catalog

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: SQLiteDatabase
        idempotency_ttl: int

    def adjust(self, adjustment: Adjustment, idempotency: Idempotency | None = None) -> Adjusted:
        with self.db.transaction(self.idempotency_ttl) as tx:
            seen = tx.claimed(idempotency)
            if seen is not None:
                return Adjusted.from_document(orjson.loads(seen))
            after = apply_adjustment(adjustment, tx.player(adjustment.player_id))
            at = tx.now()
            (adjustment_id,) = tx.db.execute(
                "INSERT INTO adjustments (kind, player_id, at, document) VALUES (?, ?, ?, x'')"
                " RETURNING adjustment_id",
                (adjustment.kind.value, adjustment.player_id, at),
            ).fetchone()
            adjusted = Adjusted(adjustment_id, at, adjustment, after)
            document = orjson.dumps(adjusted.to_document())
            tx.db.execute(
                "UPDATE adjustments SET document = ? WHERE adjustment_id = ?",
                (document, adjustment_id),
            )
            tx.save(after)
            tx.append(adjustment_event(self.catalog, adjusted, event_id=str(uuid.uuid4())))
            tx.remember(idempotency, document)
            return adjusted
