"""The outbox reader port: reading the outbox in order, and the named consumers whose
recorded positions decide what may be released.

A consumer (the relay, each lake ingest or follower) registers under a name before its first
read and records its position (the last seq it has made durable downstream) as it goes. An
entry is released only once every registered consumer's recorded position has passed it,
and only after the outbox retention; releasing and computing "every consumer has passed it"
are one atomic step in each store, so a consumer registering meanwhile either holds the
entries or finds them released (and stops, with OutboxReleased) - it never skips silently.

A consumer that stops recording positions keeps holding its entries, however long: it is
reported as stale after the consumer timeout (retention.py) and stops holding only when an
operator drops it (`bazaar outbox drop-consumer NAME`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from bazaar.domain.errors import OutboxReleased


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    seq: int
    event_id: str
    event_type: str
    occurred_at: str
    key: str  # partitioning key: the player whose order the event belongs to
    body: bytes  # the event envelope as compact JSON, exactly as it is published


@dataclass(frozen=True, slots=True)
class ConsumerPosition:
    name: str
    seq: int  # the last outbox seq this consumer recorded as durable downstream
    seen_at: float  # when it last registered or recorded (seconds since the epoch; 0: never)


class OutboxReader(ABC):
    """What outbox consumers and the releasing sweeper need from a store."""

    @abstractmethod
    def read_outbox(self, after: int = 0, limit: int = 1000) -> list[OutboxEntry]:
        """Entries with seq > after, in seq order, at most `limit`."""

    def read_outbox_bodies(self, after: int = 0, limit: int = 1000) -> list[tuple[int, bytes]]:
        """(seq, body) of the entries `read_outbox` returns: what the lake ingest needs.
        Adapters override it to skip building `OutboxEntry` objects (half of a read)."""
        return [(e.seq, bytes(e.body)) for e in self.read_outbox(after, limit)]

    @abstractmethod
    def outbox_head(self) -> int:
        """The highest seq written so far (0 when empty)."""

    @abstractmethod
    def outbox_released(self) -> int:
        """The highest seq released so far (0 when nothing was): entries up to it are gone."""

    @abstractmethod
    def release_outbox(self, upto: int) -> int:
        """Drop entries with seq <= upto that every registered consumer has passed (never
        beyond the lowest recorded position; nothing while no consumer is registered);
        returns how many entries left."""

    @abstractmethod
    def consumer_position(self, consumer: str) -> int:
        """The last seq a named consumer recorded; 0 if none."""

    @abstractmethod
    def commit_position(self, consumer: str, seq: int) -> None:
        """Record a consumer's position (registering it if new) and that it was seen now."""

    def register_consumer(self, consumer: str, seq: int) -> None:
        """Called before a consumer's first read: from now on the outbox holds every entry
        after `seq` for it."""
        self.commit_position(consumer, seq)

    @abstractmethod
    def consumers(self) -> list[ConsumerPosition]:
        """Every registered consumer, by name."""

    @abstractmethod
    def drop_consumer(self, consumer: str) -> bool:
        """Forget a consumer, so it holds nothing any more; False if it was not registered."""

    def close(self) -> None:  # noqa: B027 - optional override
        """Close the connections behind the outbox (the store's, when it is one)."""


def check_contiguous(reader: OutboxReader, after: int, first: int | None) -> None:
    """Raise OutboxReleased when a read past `after` did not start at `after + 1` (its first
    seq `first`, None for an empty read) because entries were released: outbox seqs have
    no gaps, so a missing entry can only be a released one. Costs a query only when the
    read was empty or did not line up."""
    if first == after + 1:
        return
    released = reader.outbox_released()
    if released > after:
        raise OutboxReleased(after, released)
