"""Ingest inside another process: `bazaar serve --lake PATH` runs the outbox follower in a
background thread, and the demo waits for the lake to catch up with an outbox seq."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from bazaar.domain.errors import BazaarError
from bazaar.lake.batch import app_id, normalise_root, table_uri
from bazaar.lake.ingest import DEFAULT_FLUSH_SECONDS, Ingest, IngestSummary
from bazaar.lake.sources import OUTBOX_SOURCE, OutboxSource
from bazaar.lake.tables import TABLES
from bazaar.lake.writer import LakeWriter
from bazaar.store.outbox import OutboxReader

log = logging.getLogger("bazaar.lake")
# A follower whose lake write failed (a full disk) tries again this often: once space is
# freed it resumes from the lake's positions, each table taking exactly what it lacks.
DEFAULT_RETRY_SECONDS = 5.0


class LakeFollower:
    """Follows a store's outbox into the lake on a daemon thread until `stop()`."""

    def __init__(
        self,
        store: OutboxReader,
        lake: str | Path,
        *,
        storage_options: Mapping[str, str] | None = None,
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.lake = normalise_root(lake)
        self.retry_seconds = retry_seconds
        self._store = store
        self._flush_seconds = flush_seconds
        self._writer = LakeWriter(self.lake, storage_options=storage_options)
        self._ingest = self._new_ingest()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="lake-follower", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> LakeFollower:
        self._writer.open()
        self._thread.start()
        return self

    def _new_ingest(self) -> Ingest:
        return Ingest(
            OutboxSource(self._store),
            self._writer,
            flush_seconds=self._flush_seconds,
            on_flush=self._landed,
        )

    def _run(self) -> None:
        while True:
            try:
                self._ingest.run(follow=True, stop=self._stop)
                return
            except BazaarError as exc:  # the lake's disk or the store: may come back
                self._failed(exc, retrying=True)
            except BaseException as exc:  # reported through .error and wait_for()
                self._failed(exc, retrying=False)
                return
            if self._stop.wait(self.retry_seconds):
                return
            # Resume from the lake's positions with nothing buffered: a fresh Ingest, so no
            # event polled before the failure is handed to the writer twice.
            summary = self._ingest.summary
            self._ingest = self._new_ingest()
            self._ingest.summary = summary

    def _failed(self, exc: BaseException, *, retrying: bool) -> None:
        text = exc.detail if isinstance(exc, BazaarError) else repr(exc)
        if self.error is None or str(self.error) != str(exc):  # once per distinct failure
            if retrying:
                log.error("lake follower: %s (retrying every %g s)", text, self.retry_seconds)
            else:
                log.error("lake follower stopped: %s", text, exc_info=exc)
        self.error = exc
        with self._progress:
            self._progress.notify_all()

    def _landed(self, summary: IngestSummary) -> None:
        if self.error is not None:
            log.warning("lake follower: landing again after: %s", self.error)
            self.error = None
        with self._progress:
            self._progress.notify_all()

    @property
    def summary(self) -> IngestSummary:
        return self._ingest.summary

    def landed_seq(self) -> int:
        return self._ingest.summary.positions.get(OUTBOX_SOURCE, 0)

    def wait_for(self, seq: int, timeout: float = 30.0) -> bool:
        """True once the lake holds every outbox entry up to `seq`."""
        deadline = time.monotonic() + timeout
        with self._progress:
            while self.landed_seq() < seq:
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None or not self._thread.is_alive():
                    break
                self._progress.wait(min(left, 0.5))
        if self.landed_seq() < seq and self.error is not None:
            raise self.error
        return self.landed_seq() >= seq

    def stop(self, timeout: float = 30.0) -> IngestSummary:
        self._stop.set()
        self._thread.join(timeout)
        self._writer.close()
        return self._ingest.summary


def lake_position(
    lake: str | Path,
    *,
    source: str = OUTBOX_SOURCE,
    storage_options: Mapping[str, str] | None = None,
) -> int:
    """The last source position every table of the lake holds (0 when none): read from
    the Delta logs alone, so any process can ask."""
    root = normalise_root(lake)
    positions = []
    for table in TABLES:
        try:
            dt = DeltaTable(table_uri(root, table), storage_options=dict(storage_options or {}))
            version = dt.transaction_version(app_id(source, table))
        except TableNotFoundError:
            return 0
        except DeltaError:
            return 0
        positions.append(version or 0)
    return min(positions)


def wait_for_lake(
    lake: str | Path,
    seq: int,
    *,
    timeout: float = 30.0,
    source: str = OUTBOX_SOURCE,
    storage_options: Mapping[str, str] | None = None,
) -> bool:
    """Wait until the lake has caught up with outbox seq `seq`; False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if lake_position(lake, source=source, storage_options=storage_options) >= seq:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
