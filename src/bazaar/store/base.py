"""The store port: what the API, relay, ingest and simulator need from player storage, as
four ports by who uses them (docs/ARCHITECTURE.md):

    Trading         trading.py     players, trades, idempotency        API trade path, simulator
    OfferBook       offer_book.py  offers, player tokens, history      API offer/auth/history
    RetainedRecords retained.py    retention marks, dropping records   retention sweeper
    OutboxReader    outbox.py      outbox reads, consumer positions    relay, lake, sweeper
    Economy         economy.py     grants, consumptions, trade fee     API grant routes

A `Store` is all five over one database; code that needs one part takes that port only.
Every write is one atomic step that changes player state AND appends the matching event to
the outbox, or does neither. Consumers read the outbox by sequence number, in order; a
sequence number is a positive integer, strictly increasing in commit order.
"""

from __future__ import annotations

from dataclasses import dataclass

from bazaar.store.economy import Economy
from bazaar.store.offer_book import CounterResult as CounterResult
from bazaar.store.offer_book import HistoryEntry as HistoryEntry
from bazaar.store.offer_book import HistoryPage as HistoryPage
from bazaar.store.offer_book import OfferBook
from bazaar.store.offer_book import OfferResult as OfferResult
from bazaar.store.outbox import ConsumerPosition as ConsumerPosition
from bazaar.store.outbox import OutboxEntry as OutboxEntry
from bazaar.store.outbox import OutboxReader
from bazaar.store.retained import IDEMPOTENCY_TTL_SECONDS as IDEMPOTENCY_TTL_SECONDS
from bazaar.store.retained import RetainedRecords
from bazaar.store.trading import Idempotency as Idempotency
from bazaar.store.trading import TradeCall as TradeCall
from bazaar.store.trading import Trading
from bazaar.store.trading import new_event_ids as new_event_ids


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """What callers may count on beyond the ports, per adapter."""

    # How many execute_trades batches one API process may have in flight (api/batching.py).
    batches_in_flight: int = 1
    # True when a process forked after close() may use the store, and this one may go on
    # using it afterwards (each process opens its own connections): the in-process
    # simulator then runs the store in a child process beside its planner.
    forkable: bool = False
    # True when execute_trades_async runs a batch from the event loop itself (no thread).
    async_trades: bool = False


class Store(Trading, OfferBook, Economy, RetainedRecords, OutboxReader):
    """A player store with a transactional outbox: the five ports over one database."""

    capabilities: StoreCapabilities = StoreCapabilities()

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
