"""A batch of trades in one SQLite write transaction (the unit of work, sqlite_transaction.py),
and the player states carried between them.

The trade path is the store's hot loop (POST /trades, offers, `bazaar simulate
--in-process`), so per trade it does only what the rules and the records need: player
states come from memory when this connection wrote them last, documents are rendered to
JSON in one call each, and rows are written with one executemany per table at the end.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import orjson

from bazaar.codec import encode_envelope
from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import EPOCH, format_instant, instant_micros
from bazaar.domain.events import trade_payload
from bazaar.domain.model import PlayerState, TradeRequest
from bazaar.domain.trading import Accepted, TradeOutcome, execute_trade, outcome_from_document
from bazaar.store.sqlite_transaction import (
    OUTBOX_INSERT,
    PLAYER_SAVE,
    SQLiteTransaction,
    player_row,
)
from bazaar.store.trading import Idempotency, new_event_ids

TRADE_INSERT = "INSERT INTO trades (trade_id, status, executed_at, outcome) VALUES (?, ?, ?, ?)"


def trade_outbox_row(
    catalog: Catalog, outcome: TradeOutcome, event_id: str
) -> tuple[str, str, str, str, bytes]:
    """`outbox_row(trade_event(catalog, outcome, event_id=event_id))` without building the
    Event (a unit test holds them equal)."""
    event_type, payload = trade_payload(catalog, outcome)
    occurred_at = outcome.executed_at
    body = encode_envelope(event_id, event_type, occurred_at, payload)
    return (event_id, event_type, occurred_at, str(outcome.request.player_1.player_id), body)


def _state_document(state: PlayerState) -> dict[str, Any]:
    # Item ids stay ints, in numeric order, and orjson writes them as keys ("7"): the same
    # bytes as PlayerState.to_document's str keys at half the cost.
    return {
        "player_id": state.player_id,
        "username": state.username,
        "player_class": state.player_class,
        "gold": state.gold,
        "items": dict(sorted(state.items.items())),
        "capacity": state.capacity,
        "version": state.version,
        "created_at": state.created_at,
    }


def outcome_json(outcome: TradeOutcome) -> bytes:
    """Exactly `orjson.dumps(outcome.to_document())` (a unit test holds them equal)."""
    doc: dict[str, Any] = {
        "trade_id": outcome.trade_id,
        "status": outcome.status,
        "executed_at": outcome.executed_at,
        "request": outcome.request.to_document(),
    }
    if isinstance(outcome, Accepted):
        doc["player_1"] = _state_document(outcome.player_1)
        doc["player_2"] = _state_document(outcome.player_2)
        if outcome.fee_1 or outcome.fee_2:
            doc["fees"] = [outcome.fee_1, outcome.fee_2]
    else:
        doc["reason"] = outcome.reason.value
        doc["detail"] = outcome.detail
    return orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS)


class TradeBatch:
    """What one write transaction of trades has read and will write.

    Inside the transaction nobody else can write, so player states, the next trade id and
    the clock are read once and then carried in memory; rows are written with one
    executemany per table at the end, and each player row once, with its final state.
    """

    def __init__(
        self, tx: SQLiteTransaction, trades: int, catalog: Catalog, fee_bps: int = 0
    ) -> None:
        self._tx = tx
        self._fee_bps = fee_bps
        self._db = tx.db
        self._cache = tx.cache
        self._catalog = catalog
        self._trades_expected = max(1, trades)
        self._states: dict[int, PlayerState] = {}
        self._dirty: dict[int, PlayerState] = {}
        self._trade_id: int | None = None
        self._last: int | None = None  # microseconds since the epoch
        self._second = -1
        self._prefix = ""
        self._ids: list[str] = []
        self._claims: dict[str, tuple[str, bytes]] = {}
        self._trades: list[tuple[int, str, str, bytes]] = []
        self._events: list[tuple[str, str, str, str, bytes]] = []

    def trade(
        self, request: TradeRequest, idempotency: Idempotency | None, escrowed: bool = False
    ) -> TradeOutcome:
        """One trade on the states the batch's earlier trades left (rows written at flush).
        `escrowed`: player_1's side is an accepted offer's held goods. Raises UnknownPlayer
        or IdempotencyKeyReused with nothing recorded."""
        seen = self.claimed(idempotency)
        if seen is not None:
            return outcome_from_document(orjson.loads(seen))
        p1 = self.player(request.player_1.player_id)
        p2 = self.player(request.player_2.player_id)
        outcome = execute_trade(
            self._catalog, request, p1, p2, trade_id=self.next_trade_id(),
            executed_at=self.next_instant(), fee_bps=self._fee_bps, escrowed=escrowed,
        )  # fmt: skip
        document = outcome_json(outcome)
        if isinstance(outcome, Accepted):
            self.changed(outcome.player_1)
            self.changed(outcome.player_2)
        event = trade_outbox_row(self._catalog, outcome, self.next_event_id())
        self.record(outcome, document, event, idempotency)
        return outcome

    def player(self, player_id: int) -> PlayerState:
        state = self._states.get(player_id)
        if state is None:
            # An earlier batch of this same transaction (flushed, not yet committed) may
            # have changed the player: its state is in `pending`, newer than `states`.
            state = self._cache.pending.get(player_id) or self._cache.states.get(player_id)
            if state is None:
                state = self._tx.load(player_id)
            self._states[player_id] = state
        return state

    def changed(self, state: PlayerState) -> None:
        self._states[state.player_id] = state
        self._dirty[state.player_id] = state

    def next_trade_id(self) -> int:
        if self._trade_id is None:
            row = self._db.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'trades'"
            ).fetchone()
            self._trade_id = row[0] if row else 0
        self._trade_id += 1
        return self._trade_id

    def next_instant(self) -> str:
        """The wall clock, or 1 us after the last instant handed out if it is not past it.

        Kept as whole microseconds since the epoch, and only the seconds part is formatted
        through datetime (once a second): the same text as format_instant at a fifth of
        the cost, which every trade pays."""
        if self._last is None:
            last = self._tx.last_instant()
            self._last = instant_micros(last) if last is not None else 0
        now = time.time_ns() // 1000
        if now <= self._last:
            now = self._last + 1
        self._last = now
        second, micros = divmod(now, 1_000_000)
        if second != self._second:
            self._second = second
            self._prefix = format_instant(EPOCH + timedelta(seconds=second))[:-7]
        return f"{self._prefix}{micros:06d}Z"

    def next_event_id(self) -> str:
        # One urandom call for the whole batch, sized to it: a batch of one trade (HTTP
        # under light load, offers) must not pay for ids it will throw away.
        if not self._ids:
            self._ids = new_event_ids(self._trades_expected)
        return self._ids.pop()

    def claimed(self, idem: Idempotency | None) -> bytes | None:
        if idem is None:
            return None
        pending = self._claims.get(idem.key)
        if pending is None:
            return self._tx.claimed(idem)
        if pending[0] != idem.fingerprint:
            raise idem.reused()
        return pending[1]

    def record(
        self,
        outcome: TradeOutcome,
        document: bytes,
        event: tuple[str, str, str, str, bytes],
        idem: Idempotency | None,
    ) -> None:
        """`event` is the outbox row of the trade's event (trade_outbox_row)."""
        self._trades.append((outcome.trade_id, outcome.status, outcome.executed_at, document))
        self._events.append(event)
        if idem is not None:
            self._claims[idem.key] = (idem.fingerprint, document)

    def flush(self) -> None:
        """Writes the rows; the caller's transaction commits them (then the cache)."""
        db = self._db
        db.executemany(TRADE_INSERT, self._trades)
        db.executemany(PLAYER_SAVE, [player_row(st) for st in self._dirty.values()])
        db.executemany(OUTBOX_INSERT, self._events)
        for key, (fingerprint, document) in self._claims.items():
            self._tx.remember(Idempotency(key, fingerprint), document)
        self._cache.pending.update(self._states)
