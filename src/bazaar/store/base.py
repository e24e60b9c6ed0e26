"""The store port: what the API, relay, ingest and simulator need from player storage.

Every write is one atomic step that changes player state AND appends the matching event to
the outbox, or does neither. Consumers read the outbox by sequence number, in order; a
sequence number is a positive integer, strictly increasing in commit order.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import BazaarError, IdempotencyKeyReused, UnknownPlayer
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest
from bazaar.domain.trading import TradeOutcome

IDEMPOTENCY_TTL_SECONDS = 48 * 3600  # promised: at least 24 h


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A client's Idempotency-Key and a fingerprint of the request body it came with."""

    key: str
    fingerprint: str

    @staticmethod
    def for_request(scope: str, key: str, body: Mapping[str, Any]) -> Idempotency:
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        return Idempotency(f"{scope}:{key}", hashlib.sha256(canonical).hexdigest())


TradeCall = tuple[TradeRequest, Idempotency | None]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    event_id: str
    event_type: str
    occurred_at: str
    key: str  # partitioning key: the player whose order the event belongs to
    body: bytes  # the event envelope as compact JSON, exactly as it is published


class Store(ABC):
    """A player store with a transactional outbox."""

    catalog: Catalog

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

    @abstractmethod
    def get_trade(self, trade_id: int) -> TradeOutcome:
        """Raises UnknownTrade."""

    @abstractmethod
    def read_outbox(self, after: int = 0, limit: int = 1000) -> list[OutboxEntry]:
        """Entries with seq > after, in seq order, at most `limit`."""

    @abstractmethod
    def release_outbox(self, upto: int) -> int:
        """Drop entries with seq <= upto once every consumer has them; returns how many."""

    @abstractmethod
    def consumer_position(self, consumer: str) -> int:
        """The last seq a named consumer (relay, ingest) confirmed; 0 if none."""

    @abstractmethod
    def commit_position(self, consumer: str, seq: int) -> None: ...

    @abstractmethod
    def outbox_head(self) -> int:
        """The highest seq written so far (0 when empty)."""

    @abstractmethod
    def player_ids(self) -> list[int]: ...

    def players(self) -> list[PlayerState]:
        return [self.get_player(pid) for pid in self.player_ids()]

    def ping(self) -> None:  # noqa: B027 - optional override
        """Raise StoreUnavailable when the backing service cannot be reached."""

    def durability_warning(self) -> str | None:
        """A sentence for the operator when this store keeps nothing across a restart."""
        return None

    def close(self) -> None:  # noqa: B027 - optional override
        pass

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
