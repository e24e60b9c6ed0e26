"""The trading port: players, trades and idempotency, what the API's trade path and the
simulator need from a store.

Every write is one atomic step that changes player state AND appends the matching event to
the outbox (read through the outbox port, outbox.py), or does neither.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import BazaarError, IdempotencyKeyReused, UnknownPlayer
from bazaar.domain.model import NewPlayer, PlayerState, TradeRequest
from bazaar.domain.trading import TradeOutcome


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


class Trading(ABC):
    """Players and trades, each write with its event in one atomic step."""

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
