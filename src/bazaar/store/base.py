"""The store port: what the API, relay, ingest and simulator need from player storage.

Every write is one atomic step that changes player state AND appends the matching event to
the outbox, or does neither. Consumers read the outbox by sequence number, in order; a
sequence number is a positive integer, strictly increasing in commit order.
"""

from __future__ import annotations

import hashlib
import os
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import BazaarError, IdempotencyKeyReused, UnknownPlayer
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest
from bazaar.domain.offers import Actor, Offer, OfferAction, OfferStatus
from bazaar.domain.trading import TradeOutcome
from bazaar.store.outbox import ConsumerPosition as ConsumerPosition
from bazaar.store.outbox import OutboxEntry as OutboxEntry
from bazaar.store.outbox import OutboxReader
from bazaar.store.retained import IDEMPOTENCY_TTL_SECONDS as IDEMPOTENCY_TTL_SECONDS
from bazaar.store.retained import RetainedRecords


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A client's Idempotency-Key and a fingerprint of the request body it came with."""

    key: str
    fingerprint: str

    @staticmethod
    def for_request(scope: str, key: str, body: Mapping[str, Any]) -> Idempotency:
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        return Idempotency(f"{scope}:{key}", hashlib.sha256(canonical).hexdigest())

    @property
    def client_key(self) -> str:
        """The key as the client sent it (without the scope), for error messages."""
        return self.key.split(":", 1)[1]

    def reused(self) -> IdempotencyKeyReused:
        return IdempotencyKeyReused(self.client_key)


def new_event_ids(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as text: one urandom call for a whole batch costs a
    third of `str(uuid.uuid4())` per id, which shows on the trade path."""
    raw = os.urandom(16 * count).hex()
    ids = []
    for at in range(0, 32 * count, 32):
        h = raw[at : at + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


TradeCall = tuple[TradeRequest, Idempotency | None]


@dataclass(frozen=True, slots=True)
class OfferResult:
    """An offer after a transition, and the trade it ran (accept only)."""

    offer: Offer
    trade: TradeOutcome | None = None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: str  # "trade" | "offer"
    at: str  # the trade's executed_at, the offer's created_at: unique per store
    trade: TradeOutcome | None = None
    offer: Offer | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None  # pass as `before` for the next (older) page; None at the end
    # True on the last page when older entries have left the store (trade retention): the
    # lake holds them.
    archived: bool = False


class Store(RetainedRecords, OutboxReader):
    """A player store with a transactional outbox (read through the OutboxReader port) and
    trade and offer records kept for a retention (the RetainedRecords port)."""

    catalog: Catalog
    # How many execute_trades batches one API process may have in flight (api/batching.py).
    batches_in_flight: int = 1
    # True when a process forked after close() may use the store, and this one may go on
    # using it afterwards (each process opens its own connections): the in-process
    # simulator then runs the store in a child process beside its planner.
    forkable: bool = False
    # True when execute_trades_async runs a batch from the event loop itself (no thread).
    async_trades: bool = False

    @abstractmethod
    def create_player(
        self, new: NewPlayer, idempotency: Idempotency | None = None
    ) -> PlayerState: ...

    @abstractmethod
    def get_player(self, player_id: int) -> PlayerState:
        """Raises UnknownPlayer."""

    @abstractmethod
    def execute_trade(
        self, request: TradeRequest, idempotency: Idempotency | None = None
    ) -> TradeOutcome:
        """Raises UnknownPlayer (nothing recorded) or IdempotencyKeyReused."""

    def execute_trades(self, batch: Sequence[TradeCall]) -> list[TradeOutcome | BazaarError]:
        """Several trades in order, as one round trip where the store can (group commit).

        A call refused before it wrote anything (UnknownPlayer, IdempotencyKeyReused) is
        returned in its place; a failure of the whole step (StoreUnavailable) is raised.
        """
        results: list[TradeOutcome | BazaarError] = []
        for request, idempotency in batch:
            try:
                results.append(self.execute_trade(request, idempotency))
            except (UnknownPlayer, IdempotencyKeyReused) as refused:
                results.append(refused)
        return results

    async def execute_trades_async(
        self, batch: Sequence[TradeCall]
    ) -> list[TradeOutcome | BazaarError]:
        """execute_trades from the event loop, for stores that set `async_trades`."""
        raise NotImplementedError

    @abstractmethod
    def get_trade(self, trade_id: int) -> TradeOutcome:
        """Raises UnknownTrade; ArchivedTrade for one dropped after the trade retention."""

    @abstractmethod
    def player_ids(self) -> list[int]: ...

    def players(self) -> list[PlayerState]:
        return [self.get_player(pid) for pid in self.player_ids()]

    # -- offers, player tokens, history (docs: domain/offers.py) ---------------------------
    # Defaults refuse, so a store without offers still serves trades; both adapters here
    # implement them.

    def create_offer(self, request: TradeRequest, ttl_seconds: int) -> Offer:
        """One step: the offer (open) and its offer_created event. Raises UnknownPlayer."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def get_offer(self, offer_id: int) -> Offer:
        """As stored (callers apply `Offer.seen_at`). Raises UnknownOffer."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def list_offers(
        self, player_id: int, status: OfferStatus | None = None, limit: int = 100
    ) -> list[Offer]:
        """Offers made by or to `player_id`, newest first, as stored."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def act_on_offer(self, offer_id: int, action: OfferAction, actor: Actor) -> OfferResult:
        """One atomic step: check the actor and the status, then decline, cancel, or accept
        (run the trade on the states at this instant), writing the offer, the trade and
        their events together. An open offer past its expiry is recorded as expired (with
        its event) and then refused with OfferNotOpen. Raises UnknownOffer, Forbidden,
        OfferNotOpen."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def add_player_token(self, player_id: int, token_hash: str) -> None:
        """Remember a player's token by its hash (never the token). Raises UnknownPlayer."""
        raise NotImplementedError(f"{type(self).__name__} does not support player tokens")

    def player_for_token(self, token_hash: str) -> int | None:
        raise NotImplementedError(f"{type(self).__name__} does not support player tokens")

    def revoke_player_tokens(self, player_id: int) -> int:
        """Forget every token of the player (how many there were); every later lookup of
        one answers None, from any process. Raises UnknownPlayer."""
        raise NotImplementedError(f"{type(self).__name__} does not support player tokens")

    def player_history(
        self, player_id: int, limit: int = 50, before: str | None = None
    ) -> HistoryPage:
        """The player's trades and offers, newest first, older than the cursor `before`.
        Raises UnknownPlayer; InvalidRequest for a cursor this store never issued."""
        raise NotImplementedError(f"{type(self).__name__} does not support history")

    def ping(self) -> None:
        """Raise StoreUnavailable when the backing service cannot be reached."""

    def durability_warning(self) -> str | None:
        """A sentence for the operator when this store keeps nothing across a restart."""
        return None

    def close(self) -> None:
        pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
