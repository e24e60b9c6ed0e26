"""The ingest loop: read a source, cut micro-batches by size or age, land them in the lake.

Order of a cycle: poll the source -> buffer -> when the buffer is full (`flush_events`) or its
oldest event is `flush_seconds` old (or, when draining, the source has nothing more) ->
`LakeWriter.stage` decodes the batch -> `LakeWriter.commit` commits every table with the
source positions inside the commits -> only then tell the source (`committed`). Positions
live in the lake, not in the source, so a crash anywhere in the cycle loses nothing: the
restart resumes from the lake's positions.

Pipelined: batch k commits on a background thread while this thread reads and stages batch
k+1 (the Delta commits and Arrow's parser release the GIL). The order stays that of a plain
loop: batch k+1 is submitted only after batch k's commits have all finished (a failed batch
stops the pipeline before anything later is committed); staging, and with it the memory of
event ids, stays on this thread, in batch order; a Kafka rebalance first waits for the batch
in flight, so the handler sees the lake as this process left it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from bazaar.lake.batch import BatchResult, Polled
from bazaar.lake.tables import TABLES
from bazaar.lake.writer import LakeWriter

DEFAULT_FLUSH_SECONDS = 1.0
DEFAULT_FLUSH_EVENTS = 50_000
_IN_FLIGHT_POLL = 0.02  # poll timeout while a commit runs: its landing is noticed promptly


class EventSource(Protocol):
    """Where events come from: the store's outbox, or a Kafka topic."""

    def start(self, writer: LakeWriter, rebalance: Callable[[Collection[str]], None]) -> None:
        """Position the source after what the lake holds. Call `rebalance(sources)` first
        thing in a rebalance handler (Kafka): it waits for the batch being committed, then
        drops buffered events of `sources`, which this process no longer owns."""

    def poll(self, max_events: int, timeout: float) -> Polled: ...

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
        self._buffer = Polled()
        self._oldest = 0.0
        self._started = time.monotonic()
        self._in_flight: tuple[Future[BatchResult], float] | None = None

    def _rebalance(self, sources: Collection[str]) -> None:
        self._settle()
        if sources:
            self._buffer = self._buffer.without(sources)

    def run(self, *, follow: bool = False, stop: threading.Event | None = None) -> IngestSummary:
        self._started = time.monotonic()
        # One thread: a batch's commits start only once the previous batch's have finished.
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-ingest")
        try:
            self.source.start(self.writer, self._rebalance)
            while not (stop is not None and stop.is_set()):
                if self._buffer:
                    wait = max(0.0, self._oldest + self.flush_seconds - time.monotonic())
                else:
                    wait = 0.2
                if self._in_flight is not None:
                    if self._in_flight[0].done():
                        self._settle()
                    else:
                        wait = min(wait, _IN_FLIGHT_POLL)
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
                    self._flush_async(committer)
                elif drained and not self._buffer:
                    break
            # A graceful stop lands what is buffered, and waits until it has landed.
            self._flush_async(committer)
            self._settle()
        except BaseException:
            # Never leave a commit running behind the caller's back. The error on its way
            # is the one to report; the batch in flight may have failed for the same cause.
            with contextlib.suppress(Exception):
                self._settle()
            raise
        finally:
            committer.shutdown(wait=True)
        self.summary.seconds = time.monotonic() - self._started
        self.summary.lag = self.source.lag()
        return self.summary

    def _flush_async(self, committer: ThreadPoolExecutor) -> None:
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, Polled()
        began = time.monotonic()
        # Staged here, while the previous batch may still be committing.
        staged = self.writer.stage(batch)
        self._settle()
        self._in_flight = committer.submit(self.writer.commit, staged), began

    def _settle(self) -> None:
        """Wait for the batch in flight; raise its failure; report its landing."""
        if self._in_flight is None:
            return
        future, began = self._in_flight
        self._in_flight = None
        result = future.result()
        self.source.committed(result.positions)
        self.summary.add(result, time.monotonic() - began)
        self.summary.seconds = time.monotonic() - self._started
        if self.on_flush is not None:
            self.on_flush(self.summary)
