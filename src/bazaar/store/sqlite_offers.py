"""Offers, player tokens and player history for the SQLite store (a part of SQLiteStore).

Every offer write runs in one `BEGIN IMMEDIATE` transaction, the unit of work
(`SQLiteTransaction`), so the offer row, its escrow (the creator's `held_*` columns), a
trade it runs (through a `TradeBatch`: the same rules, the same trade row and event as
POST /trades) and every event land together or not at all. The write lock serialises all
writers, so of two racing accepts (or an accept and a cancel, or two offers of the same
sword) exactly one wins.

History: offers are indexed when created; trades are indexed lazily, at the next history
read, by one INSERT ... SELECT over the trades written since the last read. That keeps the
trade hot path free of extra writes, at the price of a history read taking the write lock
when trades happened since the previous one.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import format_instant
from bazaar.domain.errors import ArchivedOffer, BazaarError, OfferNotOpen, UnknownOffer
from bazaar.domain.model import PlayerState, TradeRequest
from bazaar.domain.offers import (
    Actor,
    Offer,
    OfferAction,
    OfferStatus,
    check_actor,
    check_cursor,
    check_escrow,
    check_open,
    countered,
    expired,
    hold,
    offer_event,
    open_offer,
    resolved,
    settled,
)
from bazaar.domain.trading import Rejected, TradeOutcome, normalise, outcome_from_document
from bazaar.store.base import CounterResult, HistoryEntry, HistoryPage, OfferResult
from bazaar.store.retained import Archived
from bazaar.store.sqlite_batch import TradeBatch
from bazaar.store.sqlite_database import SQLiteDatabase
from bazaar.store.sqlite_transaction import SQLiteTransaction

OFFERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS offers (
    offer_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    from_player INTEGER NOT NULL,
    to_player   INTEGER NOT NULL,
    status      TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    document    BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS offers_by_creator ON offers (from_player, offer_id);
CREATE INDEX IF NOT EXISTS offers_by_addressee ON offers (to_player, offer_id);
-- For the expiry sweeper: open offers by deadline.
CREATE INDEX IF NOT EXISTS offers_open_by_expiry ON offers (expires_at) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS player_tokens (
    token_hash TEXT PRIMARY KEY,
    player_id  INTEGER NOT NULL,
    issued_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS player_tokens_by_player ON player_tokens (player_id);
CREATE TABLE IF NOT EXISTS player_history (
    player_id INTEGER NOT NULL,
    at        TEXT NOT NULL,
    kind      TEXT NOT NULL,
    ref_id    INTEGER NOT NULL,
    PRIMARY KEY (player_id, at, kind, ref_id)
) WITHOUT ROWID;
-- For the retention sweep, which drops the entries of dropped trades and offers by id.
CREATE INDEX IF NOT EXISTS player_history_by_ref ON player_history (kind, ref_id);
"""

_INDEX_TRADES = """
INSERT OR IGNORE INTO player_history (player_id, at, kind, ref_id)
SELECT json_extract(CAST(outcome AS TEXT), '$.request.' || side.name || '.player_id'),
       executed_at, 'trade', trade_id
FROM trades, (SELECT 'player_1' AS name UNION ALL SELECT 'player_2') AS side
WHERE trade_id > ?
"""


class SQLiteOffers:
    """The offer half of SQLiteStore; reaches SQLite through the store's SQLiteDatabase."""

    catalog: Catalog
    trade_fee_bps: int

    if TYPE_CHECKING:  # provided by SQLiteStore
        db: SQLiteDatabase
        idempotency_ttl: int

        def get_player(self, player_id: int) -> PlayerState: ...
        def archived(self) -> Archived: ...

    # -- offers --------------------------------------------------------------------------

    def _record(self, tx: SQLiteTransaction, offer: Offer) -> None:
        """Write the offer's current form and the event of the transition that made it."""
        tx.db.execute(
            "UPDATE offers SET status = ?, document = ? WHERE offer_id = ?",
            (offer.status.value, orjson.dumps(offer.to_document()), offer.offer_id),
        )
        tx.append(offer_event(self.catalog, offer, event_id=str(uuid.uuid4())))

    def create_offer(self, request: TradeRequest, ttl_seconds: int) -> Offer:
        with self.db.transaction(self.idempotency_ttl) as tx:
            return self._open(tx, normalise(request), ttl_seconds, None)

    def _open(
        self, tx: SQLiteTransaction, request: TradeRequest, ttl_seconds: int, counter_of: int | None
    ) -> Offer:
        """A new open offer with its creator's gives held (GoodsUnavailable: nothing written)."""
        db = tx.db
        creator = tx.player(request.player_1.player_id)  # UnknownPlayer: nothing written
        tx.load(request.player_2.player_id)
        check_escrow(creator, request.player_1)
        created_at = tx.now()
        (offer_id,) = db.execute(
            "INSERT INTO offers (from_player, to_player, status, expires_at, document)"
            " VALUES (?, ?, 'open', '', x'') RETURNING offer_id",
            (request.player_1.player_id, request.player_2.player_id),
        ).fetchone()
        offer = open_offer(offer_id, request, created_at, ttl_seconds, counter_of)
        tx.save(hold(creator, request.player_1))
        db.execute(
            "UPDATE offers SET expires_at = ?, document = ? WHERE offer_id = ?",
            (offer.expires_at, orjson.dumps(offer.to_document()), offer_id),
        )
        db.executemany(
            "INSERT INTO player_history (player_id, at, kind, ref_id) VALUES (?, ?, 'offer', ?)",
            [(pid, created_at, offer_id) for pid in (offer.from_player_id, offer.to_player_id)],
        )
        tx.append(offer_event(self.catalog, offer, event_id=str(uuid.uuid4())))
        return offer

    def _release(self, tx: SQLiteTransaction, offer: Offer) -> None:
        """Give an open offer's held goods back to its creator's free goods."""
        if offer.holds_goods:
            side = offer.request.player_1
            tx.save(hold(tx.player(side.player_id), side, -1))

    def _offer_in(self, db: sqlite3.Connection, offer_id: int) -> Offer:
        row = db.execute("SELECT document FROM offers WHERE offer_id = ?", (offer_id,)).fetchone()
        if row is None:
            raise UnknownOffer(offer_id)
        return Offer.from_document(orjson.loads(row[0]))

    def get_offer(self, offer_id: int) -> Offer:
        rows = self.db.read("SELECT document FROM offers WHERE offer_id = ?", (offer_id,))
        if not rows:
            if 0 < offer_id <= self.archived().offers:
                raise ArchivedOffer(offer_id)
            raise UnknownOffer(offer_id)
        return Offer.from_document(orjson.loads(rows[0][0]))

    def list_offers(
        self, player_id: int, status: OfferStatus | None = None, limit: int = 100
    ) -> list[Offer]:
        self.get_player(player_id)  # UnknownPlayer
        # An open row may read as expired now: filter on the offers as seen, not as stored.
        stored = "" if status is None else " AND status IN (?, 'open')"
        params: tuple[object, ...] = (player_id, player_id)
        if status is not None:
            params += (status.value,)
        rows = self.db.read(
            "SELECT document FROM offers WHERE (from_player = ? OR to_player = ?)"
            + stored
            + " ORDER BY offer_id DESC",
            params,
        )
        now = format_instant(datetime.now(UTC))
        seen = (Offer.from_document(orjson.loads(r[0])).seen_at(now) for r in rows)
        return [o for o in seen if status is None or o.status is status][:limit]

    def act_on_offer(self, offer_id: int, action: OfferAction, actor: Actor) -> OfferResult:
        refusal: BazaarError | None = None
        with self.db.transaction(self.idempotency_ttl) as tx:
            offer = self._offer_in(tx.db, offer_id)
            check_actor(offer, action, actor)
            check_open(offer)
            now = tx.now()
            trade: TradeOutcome | None = None
            if offer.is_due(now):
                # Record the expiry (commit it), THEN refuse: raising inside the
                # transaction would roll the expiry back with it.
                self._release(tx, offer)
                offer = expired(offer, now)
                refusal = OfferNotOpen(offer_id, offer.status.value)
            elif action is OfferAction.ACCEPT:
                # The trade through the store's own trade path (POST /trades runs the same
                # code), inside this transaction; its rows and event are written here. The
                # creator's side comes out of escrow.
                batch = TradeBatch(tx, 1, self.catalog, self.trade_fee_bps)
                trade = batch.trade(offer.request, None, escrowed=offer.holds_goods)
                batch.flush()
                if isinstance(trade, Rejected):
                    self._release(tx, offer)
                offer = settled(offer, actor, trade, tx.now())
            else:
                self._release(tx, offer)
                offer = resolved(offer, action, actor, now)
            self._record(tx, offer)
        if refusal is not None:
            raise refusal
        return OfferResult(offer, trade)

    def counter_offer(
        self, offer_id: int, request: TradeRequest, ttl_seconds: int, actor: Actor
    ) -> CounterResult:
        refusal: BazaarError | None = None
        with self.db.transaction(self.idempotency_ttl) as tx:
            offer = self._offer_in(tx.db, offer_id)
            check_actor(offer, OfferAction.COUNTER, actor)
            check_open(offer)
            now = tx.now()
            if offer.is_due(now):
                self._release(tx, offer)
                self._record(tx, expired(offer, now))
                refusal = OfferNotOpen(offer_id, OfferStatus.EXPIRED.value)
            else:
                self._release(tx, offer)
                before = tx.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'offers'")
                next_id = int(before.fetchone()[0]) + 1
                original = countered(offer, actor, tx.now(), next_id)
                self._record(tx, original)
                counter = self._open(tx, normalise(request), ttl_seconds, offer_id)
                assert counter.offer_id == next_id, "one writer: the next id is ours"
        if refusal is not None:
            raise refusal
        return CounterResult(original, counter)

    def expire_due_offers(self, limit: int = 500) -> int:
        now = format_instant(datetime.now(UTC))
        due = self.db.read(
            "SELECT offer_id FROM offers WHERE status = 'open' AND expires_at <= ?"
            " ORDER BY expires_at LIMIT ?",
            (now, limit),
        )
        if not due:
            return 0
        expired_now = 0
        with self.db.transaction(self.idempotency_ttl) as tx:
            for (offer_id,) in due:
                offer = self._offer_in(tx.db, offer_id)
                at = tx.now()
                if offer.is_due(at):  # a touch may have ended it meanwhile
                    self._release(tx, offer)
                    self._record(tx, expired(offer, at))
                    expired_now += 1
        return expired_now

    # -- player tokens -------------------------------------------------------------------

    def add_player_token(self, player_id: int, token_hash: str) -> None:
        with self.db.transaction(self.idempotency_ttl) as tx:
            tx.load(player_id)
            tx.db.execute(
                "INSERT OR REPLACE INTO player_tokens (token_hash, player_id, issued_at)"
                " VALUES (?, ?, ?)",
                (token_hash, player_id, time.time()),
            )

    def player_for_token(self, token_hash: str) -> int | None:
        rows = self.db.read(
            "SELECT player_id FROM player_tokens WHERE token_hash = ?", (token_hash,)
        )
        return int(rows[0][0]) if rows else None

    def revoke_player_tokens(self, player_id: int) -> int:
        with self.db.transaction(self.idempotency_ttl) as tx:
            tx.load(player_id)
            return tx.db.execute(
                "DELETE FROM player_tokens WHERE player_id = ?", (player_id,)
            ).rowcount

    # -- history -------------------------------------------------------------------------

    def _index_new_trades(self) -> None:
        last = self.db.read("SELECT seq FROM sqlite_sequence WHERE name = 'trades'")
        done = self.db.read("SELECT value FROM meta WHERE name = 'history_trades'")
        head = int(last[0][0]) if last else 0
        if head <= (int(done[0][0]) if done else 0):
            return
        with self.db.transaction(self.idempotency_ttl) as tx:
            db = tx.db
            row = db.execute("SELECT value FROM meta WHERE name = 'history_trades'").fetchone()
            after = int(row[0]) if row else 0
            db.execute(_INDEX_TRADES, (after,))
            db.execute(
                "INSERT OR REPLACE INTO meta (name, value)"
                " SELECT 'history_trades', COALESCE(MAX(trade_id), 0) FROM trades"
            )

    def player_history(
        self, player_id: int, limit: int = 50, before: str | None = None
    ) -> HistoryPage:
        self.get_player(player_id)  # UnknownPlayer
        if before is not None:
            check_cursor(before)
        self._index_new_trades()
        rows = self.db.read(
            "SELECT at, kind, ref_id FROM player_history WHERE player_id = ? AND at < ?"
            " ORDER BY at DESC LIMIT ?",
            (player_id, before if before is not None else "~", limit + 1),
        )
        # An entry whose record the retention sweep dropped meanwhile is left out.
        found = [self._entry(at, kind, ref_id) for at, kind, ref_id in rows[:limit]]
        entries = [e for e in found if e is not None]
        more = len(rows) > limit
        cursor = rows[limit - 1][0] if more else None
        archived = self.archived()
        return HistoryPage(
            entries, cursor, archived=cursor is None and (archived.trades or archived.offers) > 0
        )

    def _entry(self, at: str, kind: str, ref_id: int) -> HistoryEntry | None:
        if kind == "trade":
            rows = self.db.read("SELECT outcome FROM trades WHERE trade_id = ?", (ref_id,))
            if not rows:
                return None
            return HistoryEntry("trade", at, trade=outcome_from_document(orjson.loads(rows[0][0])))
        try:
            return HistoryEntry("offer", at, offer=self.get_offer(ref_id))
        except (UnknownOffer, ArchivedOffer):
            return None
