"""Bounded state: what the server keeps, for how long, and the sweeper that drops the rest.

The store keeps only what the hot path needs; the lake keeps the full history exactly once.
One sweeper per server process (the supervisor when there are several workers) wakes every
`RetentionPolicy.interval` seconds and, in this order:

  1. records a retention mark (now, and the outbox / trade / offer heads);
  2. releases outbox entries at least `outbox` seconds old that every registered consumer
     has passed (never one a registered consumer has not recorded: stale consumers hold too);
  3. drops trade records, resolved offers and grant / consumption records at least
     `trades` seconds old;
  4. forgets marks no longer needed, gives freed space back (SQLite);
  5. reports consumers silent for longer than `consumer_timeout` (log, health "degraded").

Every step is idempotent and bounded per wake-up, so several servers sharing one Redis may
each run a sweeper, and a sweeper killed at any point leaves nothing half done that the
next one does not finish.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bazaar.domain.errors import BazaarError
from bazaar.store.base import Store
from bazaar.store.outbox import ConsumerPosition
from bazaar.store.retained import IDEMPOTENCY_TTL_SECONDS

log = logging.getLogger("bazaar.retention")

DEFAULT_OUTBOX_RETENTION = "1h"
DEFAULT_TRADE_RETENTION = "48h"
DEFAULT_CONSUMER_TIMEOUT = "24h"
DEFAULT_IDEMPOTENCY_WINDOW = "48h"
# Ids dropped per wake-up at most: at a 10 s interval, 500,000 trades/s of headroom.
SWEEP_BUDGET = 5_000_000
_STALE_LOG_EVERY = 600.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in `30s`, `15m`, `1h`, `48h`, `2d`, `1.5h` or a bare number of seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{what}: {text!r} is not a duration (examples: 30s, 15m, 1h, 48h, 2d)")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"{what}: must be longer than zero, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    outbox: float = 3600.0
    trades: float = 48 * 3600.0
    consumer_timeout: float = 24 * 3600.0
    idempotency_window: float = float(IDEMPOTENCY_TTL_SECONDS)

    def __post_init__(self) -> None:
        if self.trades < self.idempotency_window:
            raise ValueError(
                f"--trade-retention {format_duration(self.trades)} is shorter than the"
                f" idempotency window ({format_duration(self.idempotency_window)}): a"
                " retried request must find the trade it ran. Lower --idempotency-window"
                " too, or keep trades longer."
            )

    @staticmethod
    def parse(
        outbox: str = DEFAULT_OUTBOX_RETENTION,
        trades: str = DEFAULT_TRADE_RETENTION,
        consumer_timeout: str = DEFAULT_CONSUMER_TIMEOUT,
        idempotency_window: str = DEFAULT_IDEMPOTENCY_WINDOW,
    ) -> RetentionPolicy:
        return RetentionPolicy(
            parse_duration(outbox, "--outbox-retention"),
            parse_duration(trades, "--trade-retention"),
            parse_duration(consumer_timeout, "--consumer-timeout"),
            parse_duration(idempotency_window, "--idempotency-window"),
        )

    @property
    def interval(self) -> float:
        """Seconds between sweeps: a twentieth of the shortest retention, within 0.5-10 s.
        What is kept runs from the retention to about retention + 2 intervals (the mark's
        resolution and the wait for the next sweep), so short sweeps keep it level."""
        return min(10.0, max(0.5, min(self.outbox, self.trades) / 20))


@dataclass(frozen=True, slots=True)
class ConsumerReport:
    name: str
    position: int
    lag: int  # entries written after its position
    silent_for: float | None  # seconds since it last recorded (None: never, an old file)
    stale: bool  # silent for longer than the consumer timeout

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "position": self.position,
            "lag": self.lag,
            "silent_seconds": None if self.silent_for is None else round(self.silent_for, 1),
            "stale": self.stale,
        }


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """What `bazaar outbox status` prints and GET /health carries under "outbox"."""

    head: int
    released: int
    held: int  # entries still in the outbox (head - released)
    held_by: str | None  # the consumer at the lowest position: what keeps entries
    consumers: list[ConsumerReport]

    @property
    def stale(self) -> list[ConsumerReport]:
        return [c for c in self.consumers if c.stale]

    @property
    def degraded(self) -> bool:
        return bool(self.stale)

    def to_document(self) -> dict[str, Any]:
        return {
            "head": self.head,
            "released": self.released,
            "held": self.held,
            "held_by": self.held_by,
            "consumers": [c.to_document() for c in self.consumers],
        }


def consumer_reports(
    positions: list[ConsumerPosition], head: int, now: float, timeout: float
) -> list[ConsumerReport]:
    reports = []
    for c in positions:
        silent = now - c.seen_at if c.seen_at > 0 else None
        stale = silent is None or silent > timeout
        reports.append(ConsumerReport(c.name, c.seq, max(0, head - c.seq), silent, stale))
    return reports


def outbox_status(store: Store, consumer_timeout: float, now: float | None = None) -> OutboxStatus:
    now = time.time() if now is None else now
    head, released = store.outbox_head(), store.outbox_released()
    consumers = consumer_reports(store.consumers(), head, now, consumer_timeout)
    lowest = min(consumers, key=lambda c: c.position, default=None)
    held_by = lowest.name if lowest is not None and lowest.position < head else None
    return OutboxStatus(head, released, max(0, head - released), held_by, consumers)


def outbox_health(store: Store, policy: RetentionPolicy) -> dict[str, Any]:
    """The "outbox" section of GET /health; "status": "degraded" while a consumer is stale."""
    status = outbox_status(store, policy.consumer_timeout)
    doc: dict[str, Any] = {"outbox": status.to_document()}
    if status.degraded:
        doc["status"] = "degraded"
        doc["degraded"] = [
            f"outbox consumer {c.name!r} has recorded nothing for longer than the consumer"
            f" timeout ({format_duration(policy.consumer_timeout)}) and holds"
            f" {c.lag} entries; `bazaar outbox drop-consumer {c.name}` if it is gone for good"
            for c in status.stale
        ]
    return doc


@dataclass(slots=True)
class SweepReport:
    released: int = 0
    trades: int = 0
    offers: int = 0
    adjustments: int = 0
    stale: list[str] = field(default_factory=list)


def sweep_once(store: Store, policy: RetentionPolicy, now: float | None = None) -> SweepReport:
    """One pass of the sweeper (module docstring), at the instant `now`."""
    now = time.time() if now is None else now
    report = SweepReport()
    store.add_retention_mark(now)
    outbox_mark = store.retention_mark(now - policy.outbox)
    if outbox_mark is not None:
        report.released = store.release_outbox(outbox_mark.outbox)
    trade_mark = store.retention_mark(now - policy.trades)
    if trade_mark is not None:
        report.trades = store.drop_trades(trade_mark, SWEEP_BUDGET)
        report.offers = store.drop_offers(trade_mark, SWEEP_BUDGET)
        report.adjustments = store.drop_adjustments(trade_mark, SWEEP_BUDGET)
    store.prune_retention_marks(now - max(policy.outbox, policy.trades))
    if report.released or report.trades or report.offers or report.adjustments:
        store.compact()
    head = store.outbox_head()
    report.stale = [
        c.name
        for c in consumer_reports(store.consumers(), head, now, policy.consumer_timeout)
        if c.stale
    ]
    return report


class RetentionSweeper:
    """`sweep_once` on a daemon thread every `policy.interval` seconds, until `stop()`."""

    def __init__(self, store: Store, policy: RetentionPolicy) -> None:
        self.store = store
        self.policy = policy
        self.last: SweepReport | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._stale_logged: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name="bazaar-retention", daemon=True)

    def start(self) -> RetentionSweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.policy.interval):
            try:
                self.last = sweep_once(self.store, self.policy)
                self.last_error = None
            except BazaarError as exc:  # the store is away: the next wake-up tries again
                self.last_error = str(exc)
                log.warning("retention sweep: %s", exc)
                continue
            except Exception:  # a defect: say so loudly, keep serving
                log.exception("retention sweep failed")
                continue
            self._report(self.last)

    def _report(self, report: SweepReport) -> None:
        now = time.monotonic()
        for name in report.stale:
            if now - self._stale_logged.get(name, -_STALE_LOG_EVERY) >= _STALE_LOG_EVERY:
                self._stale_logged[name] = now
                log.warning(
                    "outbox consumer %r has recorded nothing for longer than %s: it holds"
                    " every entry after its position. Restart it, or run `bazaar outbox"
                    " drop-consumer %s` if it is gone for good.",
                    name,
                    format_duration(self.policy.consumer_timeout),
                    name,
                )
        for name in list(self._stale_logged):
            if name not in report.stale:
                del self._stale_logged[name]

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
