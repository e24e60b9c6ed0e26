"""The retained-records port: what the retention sweeper needs from a store to keep trade
records and resolved offers only for a retention, and the outbox only for its own.

Ages are measured with retention marks, not with the records' own instants: each sweep
records (now, outbox head, trade head, offer head), so "everything up to trade id T is at
least R old" is one lookup of the newest mark older than R, with no scan of the records and
no write on the hot path. Marks are the sweeper's clock only, so the store host's clock
never matters; their resolution is the sweep interval.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

# Seconds idempotency keys are remembered unless the server is told otherwise (at least the
# 24 h promised to clients; the trade retention may never be shorter).
IDEMPOTENCY_TTL_SECONDS = 48 * 3600


@dataclass(frozen=True, slots=True)
class RetentionMark:
    at: float  # when the sweeper recorded it (seconds since the epoch, its own clock)
    outbox: int  # outbox head then: entries up to it existed at `at`
    trade: int  # last trade id then
    offer: int  # last offer id then
    clock: int  # the store's last event instant then (microseconds; 0: none yet)


@dataclass(frozen=True, slots=True)
class Archived:
    """How far records have left the store: ids up to these are gone (offers still open
    then are kept until they resolve)."""

    trades: int
    offers: int


class RetainedRecords(ABC):
    # Seconds an Idempotency-Key's answer is kept (bootstrap sets it from the settings).
    idempotency_ttl: int = IDEMPOTENCY_TTL_SECONDS

    @abstractmethod
    def add_retention_mark(self, at: float) -> RetentionMark:
        """Record the heads as they are now, at the sweeper's instant `at`."""

    @abstractmethod
    def retention_mark(self, before: float) -> RetentionMark | None:
        """The newest mark recorded at or before `before` (None: none that old yet)."""

    @abstractmethod
    def prune_retention_marks(self, before: float) -> None:
        """Forget marks older than `before`, except the newest of them."""

    @abstractmethod
    def drop_trades(self, mark: RetentionMark, budget: int) -> int:
        """Drop trade records with id <= mark.trade (at most `budget` ids this call, oldest
        first) and their history entries; how many ids were passed. `get_trade` then
        raises ArchivedTrade for them."""

    @abstractmethod
    def drop_offers(self, mark: RetentionMark, budget: int) -> int:
        """Drop resolved offers with id <= mark.offer (open ones stay until they resolve)
        and their history entries; how many were dropped."""

    def drop_adjustments(self, mark: RetentionMark, budget: int) -> int:
        """Drop grant / consumption records at least as old as the mark (its `clock`: the
        store's last event instant then; at most `budget` this call, oldest first); how many
        were dropped. A store that keeps no such record (Redis: an applied adjustment leaves
        only its event and, under an Idempotency-Key, the reply, which expires with the
        idempotency window) drops nothing. A retried request still gets its first answer:
        the reply is kept with the key, never read back from the record."""
        return 0

    @abstractmethod
    def archived(self) -> Archived: ...

    def compact(self) -> None:  # noqa: B027 - optional override
        """Give freed space back (SQLite's incremental vacuum); nothing where memory is
        returned at once."""

    def retention_warning(self) -> str | None:
        """A sentence for the operator when releasing will not give space back."""
        return None
