"""The ingest loop: read a source, cut micro-batches by size or age, land them in the lake.

Order of a cycle: poll the source -> buffer -> when the buffer is full (`flush_events`) or its
oldest event is `flush_seconds` old (or, when draining, the source has nothing more) ->
`LakeWriter.write` commits every table with the source positions inside the commits ->
only then tell the source (`committed`). Positions live in the lake, not in the source, so
a crash anywhere in the cycle loses nothing: the restart resumes from the lake's positions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Protocol

from bazaar.lake.tables import TABLES
from bazaar.lake.writer import BatchResult, Envelope, LakeWriter

DEFAULT_FLUSH_SECONDS = 1.0
DEFAULT_FLUSH_EVENTS = 50_000


class EventSource(Protocol):
    """Where events come from: the store's outbox, or a Kafka topic."""

    def start(self, writer: LakeWriter, discard: Callable[[Collection[str]], None]) -> None:
        """Position the source after what the lake holds; `discard(sources)` drops buffered
        events of sources this process no longer owns (a Kafka rebalance)."""

    def poll(self, max_events: int, timeout: float) -> list[Envelope]: ...

    def caught_up(self) -> bool:
        """True when everything that existed when asked has been returned by `poll`."""

    def committed(self, positions: dict[str, int]) -> None:
        """The lake now holds these positions."""

    def lag(self) -> int | None:
        """Events in the source not yet in the lake (None: unknown)."""

    def describe(self) -> str: ...

    def close(self) -> None: ...


@dataclass(slots=True)
class IngestSummary:
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    flushes: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    positions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    last_flush_seconds: float = 0.0
    lag: int | None = None

    def add(self, result: BatchResult, took: float) -> None:
        self.events += result.events
        self.duplicates += result.duplicates
        self.dead_letters += result.dead_letters
        self.flushes += 1
        self.last_flush_seconds = took
        for table, n in result.rows.items():
            self.rows[table] += n
        self.positions.update(result.positions)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class Ingest:
    """One source into one lake, until drained (or, with `follow`, until `stop` is set)."""

    def __init__(
        self,
        source: EventSource,
        writer: LakeWriter,
        *,
        flush_events: int = DEFAULT_FLUSH_EVENTS,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        on_flush: Callable[[IngestSummary], None] | None = None,
    ) -> None:
        self.source = source
        self.writer = writer
        self.flush_events = max(1, flush_events)
        self.flush_seconds = flush_seconds
        self.on_flush = on_flush
        self.summary = IngestSummary()
        self._buffer: list[Envelope] = []
        self._oldest = 0.0
        self._started = time.monotonic()

    def _discard(self, sources: Collection[str]) -> None:
        self._buffer = [e for e in self._buffer if e.source not in sources]

    def run(self, *, follow: bool = False, stop: threading.Event | None = None) -> IngestSummary:
        self._started = time.monotonic()
        self.source.start(self.writer, self._discard)
        while not (stop is not None and stop.is_set()):
            if self._buffer:
                wait = max(0.0, self._oldest + self.flush_seconds - time.monotonic())
            else:
                wait = 0.2
            got = self.source.poll(self.flush_events - len(self._buffer), min(wait, 0.2))
            if got:
                if not self._buffer:
                    self._oldest = time.monotonic()
                self._buffer.extend(got)
            drained = not follow and self.source.caught_up()
            if self._buffer and (
                len(self._buffer) >= self.flush_events
                or time.monotonic() - self._oldest >= self.flush_seconds
                or drained
            ):
                self.flush()
            elif drained and not self._buffer:
                break
        self.flush()  # a graceful stop lands what is buffered
        self.summary.seconds = time.monotonic() - self._started
        self.summary.lag = self.source.lag()
        return self.summary

    def flush(self) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        began = time.monotonic()
        result = self.writer.write(batch)
        self.source.committed(result.positions)
        self.summary.add(result, time.monotonic() - began)
        self.summary.seconds = time.monotonic() - self._started
        if self.on_flush is not None:
            self.on_flush(self.summary)
