"""What `bazaar ingest` tells its operator while it runs: what it is waiting for (a Kafka
partition assignment, new events) and, after each landing, the current rate and lag.

Rates are measured since the previous progress line, not averaged since start: a follower
that has run for a day at rest shows 0/s, not its first minute's catch-up speed. The lag is
asked of the source on the ingest thread (in the landing callback), never from the watcher,
because neither a Kafka consumer nor a SQLite connection may be used from two threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from rich.table import Table

from bazaar.cli.common import console, progress_due

WAITING_NOTICE_SECONDS = 5.0  # silence after which the watcher says what ingest waits for


class IngestProgress:
    def __init__(self, source: Any, *, follow: bool, quiet: bool) -> None:
        self.source = source
        self.follow = follow
        self.quiet = quiet
        self._due = progress_due(quiet)
        self._events = 0
        self._at = time.monotonic()
        self._last_landing = time.monotonic()
        self._caught_up = False
        self._stop = threading.Event()

    def on_flush(self, summary: Any) -> None:
        self._last_landing = time.monotonic()
        if not self._due():
            return
        now = time.monotonic()
        rate = (summary.events - self._events) / max(now - self._at, 1e-6)
        self._events, self._at = summary.events, now
        lag = self.source.lag()
        state = "" if lag is None else ("caught up" if lag == 0 else "catching up")
        lag_text = "unknown" if lag is None else f"{lag:,} events"
        console.print(
            f"[dim]ingest[/] {summary.events:,} events landed, now {rate:,.0f}/s, lag "
            f"{lag_text}{f' ({state})' if state else ''}; last commit "
            f"{summary.last_flush_seconds * 1000:.0f} ms, dead letters {summary.dead_letters}"
        )
        if lag == 0 and not self._caught_up and self.follow:
            console.print("ingest: caught up; following new events")
        self._caught_up = lag == 0

    def _waiting(self) -> str | None:
        assignments = getattr(self.source, "assignments", None)
        if assignments is not None and not assignments:
            if time.monotonic() - self._last_landing < 2.0:
                return None  # a quick join needs no notice
            return (
                "ingest: waiting for a partition assignment from the consumer group "
                "(joining takes about half of session.timeout.ms; lower it with "
                "--kafka-option session.timeout.ms=6000)"
            )
        if self.follow and time.monotonic() - self._last_landing >= WAITING_NOTICE_SECONDS:
            return (
                f"ingest: waiting for new events (none in the last {WAITING_NOTICE_SECONDS:.0f} s)"
            )
        return None

    def _watch(self) -> None:
        said: str | None = None
        while not self._stop.wait(1.0):
            notice = self._waiting()
            if notice and notice != said:  # once per kind of wait, not every 5 s
                console.print(notice)
            said = notice

    def __enter__(self) -> IngestProgress:
        if not self.quiet:
            threading.Thread(target=self._watch, name="ingest-progress", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


def rows_written_table(title: str, rows: Mapping[str, int]) -> Table:
    """Rows an ingest wrote per lake table (the Python and the Spark ingest print it)."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("table")
    table.add_column("rows written", justify="right")
    for name, count in rows.items():
        table.add_row(name, f"{count:,}")
    return table
