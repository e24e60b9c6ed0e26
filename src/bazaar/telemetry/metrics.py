"""Prometheus metrics: the API's counters, and the pipeline's gauges read at scrape time.

Counters and the request histogram are prometheus_client metrics. Under `bazaar serve
--workers N` the serve command points PROMETHEUS_MULTIPROC_DIR at a fresh directory before
any worker starts (`multiprocess_dir`), every worker writes its figures there, and whichever
worker answers `GET /metrics` sums them all; without that variable (one process: the demo,
tests) they live in this process. prometheus_client chooses between the two when it is
first imported, which is why nothing imports it at module level before the variable is set.

Gauges about the pipeline (outbox head, each consumer's lag in events and seconds, the
lake's freshness) are not kept by any worker: the answering worker reads them from the
store when scraped, so they are the same whoever answers and cost the hot path nothing.

Hot path cost: one labelled child per (route, status) and per trade outcome is looked up
once and cached, so a trade costs three increments and one histogram observation.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.store.base import OfferResult

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Request latency buckets (seconds): a trade answers in about a millisecond unloaded and
# tens of milliseconds at full load; past a second something is wrong.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@contextmanager
def multiprocess_dir() -> Iterator[Path]:
    """A fresh shared directory for the workers' figures, removed when serving ends.

    Set before uvicorn starts its workers (they inherit the environment) and before
    prometheus_client is imported in this process."""
    path = Path(tempfile.mkdtemp(prefix="bazaar-metrics-"))
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous


def _multiprocess() -> bool:
    path = os.environ.get(MULTIPROC_ENV)
    return bool(path) and Path(str(path)).is_dir()


class ApiMetrics:
    """The API's own figures. One instance per app (per worker process).

    The hot path only adds to plain dictionaries here; `flush` moves the sums into the
    prometheus_client values (in multiprocess mode an mmap write under a lock each, ~8 us
    per trade if done per request) at most every FLUSH_SECONDS and before every scrape.
    So a scrape may miss the last half second of another worker's requests, never more.
    """

    FLUSH_SECONDS = 0.5

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.shared = _multiprocess()
        # In multiprocess mode figures go to files whatever the registry; a private registry
        # otherwise, so two apps in one process (tests) never collide.
        self.registry = None if self.shared else CollectorRegistry(auto_describe=True)
        reg: Any = self.registry
        self.trades = Counter(
            "bazaar_trades_total",
            "Trades executed through the API, by outcome and rejection reason",
            ["outcome", "reason"],
            registry=reg,
        )
        self.requests = Counter(
            "bazaar_http_requests_total",
            "HTTP requests answered, by route template and status",
            ["route", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "bazaar_http_request_duration_seconds",
            "Time from request to answer, by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.players = Counter(
            "bazaar_players_created_total",
            "Players created (a faucet: each brings its class's gold and items)",
            ["player_class"],
            registry=reg,
        )
        self.offers = Counter(
            "bazaar_offers_total",
            "Offer status changes made through the API, by transition",
            ["transition"],
            registry=reg,
        )
        self.adjustments = Counter(
            "bazaar_adjustments_total",
            "Grants (faucets) and consumptions (sinks) applied through the API, by reason",
            ["kind", "reason"],
            registry=reg,
        )
        self.store_errors = Counter(
            "bazaar_store_errors_total",
            "Requests that failed on the server side (store unavailable, unexpected error)",
            ["reason"],
            registry=reg,
        )
        # (route, status) -> [count, seconds, count per latency bucket ..., over the last]
        self._requests: dict[tuple[str, int], list[float]] = {}
        self._trades: dict[str | None, int] = {}
        self._flush_due = False

    def request(self, route: str, status: int, seconds: float) -> None:
        tally = self._requests.get((route, status))
        if tally is None:
            tally = self._requests[(route, status)] = [0.0] * (3 + len(LATENCY_BUCKETS))
        tally[0] += 1
        tally[1] += seconds
        tally[2 + bisect_left(LATENCY_BUCKETS, seconds)] += 1
        if not self._flush_due:
            self._schedule_flush()

    def trade(self, outcome: TradeOutcome) -> None:
        reason = None if isinstance(outcome, Accepted) else outcome.reason.value
        self._trades[reason] = self._trades.get(reason, 0) + 1
        if not self._flush_due:
            self._schedule_flush()

    def player_created(self, player_class: str) -> None:
        self.players.labels(player_class).inc()

    def offer(self, transition: str) -> None:
        self.offers.labels(transition).inc()

    def adjustment(self, kind: str, reason: str) -> None:
        self.adjustments.labels(kind, reason).inc()

    def offer_result(self, result: OfferResult) -> None:
        """An offer moved (accepted, declined, cancelled, failed); an accept ran a trade."""
        self.offer(result.offer.status.value)
        if result.trade is not None:
            self.trade(result.trade)

    def store_error(self, reason: str) -> None:
        self.store_errors.labels(reason).inc()

    def _schedule_flush(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called off the event loop: nothing will flush later
            self.flush()
            return
        self._flush_due = True
        loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush_due = False
        requests, self._requests = self._requests, {}
        trades, self._trades = self._trades, {}
        for (route, status), tally in requests.items():
            self.requests.labels(route, str(status)).inc(tally[0])
            histogram: Any = self.latency.labels(route)
            # Histogram has no public "add n observations"; its values are these (stable
            # across prometheus_client releases, and checked by tests/unit/test_metrics.py).
            histogram._sum.inc(tally[1])
            for i, count in enumerate(tally[2:]):
                if count:
                    histogram._buckets[i].inc(count)
        for reason, count in trades.items():
            outcome = "accepted" if reason is None else "rejected"
            self.trades.labels(outcome, reason or "").inc(count)


class PipelineGauges:
    """A collector read at scrape time: where the outbox is and how far behind its readers
    are, in events and in seconds (the age of the oldest event a reader does not have)."""

    def __init__(self, store: Any, consumers: Sequence[str]) -> None:
        self.store = store
        self.consumers = tuple(consumers)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        head = self.store.outbox_head()
        yield GaugeMetricFamily(
            "bazaar_outbox_head", "Highest outbox seq written so far", value=head
        )
        yield from self._retention(head)
        if not self.consumers:
            return
        lag = GaugeMetricFamily(
            "bazaar_outbox_lag_events",
            "Outbox entries a consumer has not confirmed",
            labels=["consumer"],
        )
        lag_seconds = GaugeMetricFamily(
            "bazaar_outbox_lag_seconds",
            "Age of the oldest outbox entry a consumer has not confirmed (0 when caught up)",
            labels=["consumer"],
        )
        positions = {}
        for consumer in self.consumers:
            position = self.store.consumer_position(consumer)
            positions[consumer] = position
            lag.add_metric([consumer], max(0, head - position))
            lag_seconds.add_metric([consumer], self._age_after(position, head))
        yield lag
        yield lag_seconds
        yield GaugeMetricFamily(
            "bazaar_outbox_pending_events",
            "Outbox entries not yet confirmed by every consumer",
            value=max(0, head - min(positions.values())),
        )
        lakes = [c for c in positions if c == "lake" or c.startswith("lake:")]
        if lakes:
            yield GaugeMetricFamily(
                "bazaar_lake_freshness_seconds",
                "How far the lake is behind the store: age of the oldest event it lacks",
                value=self._age_after(positions[lakes[0]], head),
            )

    def _retention(self, head: int) -> Iterator[Any]:
        """What the outbox still holds, and how long each registered consumer has been
        silent (alert when it passes serve's --consumer-timeout: store/retention.py)."""
        from prometheus_client.core import GaugeMetricFamily

        yield GaugeMetricFamily(
            "bazaar_outbox_held_events",
            "Outbox entries not yet released (every registered consumer passed + retention)",
            value=max(0, head - self.store.outbox_released()),
        )
        silent = GaugeMetricFamily(
            "bazaar_outbox_consumer_silent_seconds",
            "Seconds since a registered outbox consumer last recorded its position"
            " (+Inf: never, on a file from before consumers were timed)",
            labels=["consumer"],
        )
        now = time.time()
        for c in self.store.consumers():
            silent.add_metric([c.name], now - c.seen_at if c.seen_at > 0 else math.inf)
        yield silent

    def _age_after(self, position: int, head: int) -> float:
        return 0.0 if position >= head else age_after(self.store, position)


def age_after(store: Any, position: int) -> float:
    """Age in seconds of the oldest outbox entry after `position` (0 when none)."""
    entries = store.read_outbox(after=position, limit=1)
    return seconds_since(entries[0].occurred_at) if entries else 0.0


def lag_seconds(store: Any, consumer: str) -> float:
    """How far behind a consumer is, as the age of the oldest event it has not confirmed."""
    position = store.consumer_position(consumer)
    return 0.0 if position >= store.outbox_head() else age_after(store, position)


def seconds_since(instant: str) -> float:
    at = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return max(0.0, (datetime.now(UTC) - at).total_seconds())


def exposition(metrics: ApiMetrics, gauges: PipelineGauges | None) -> bytes:
    """The text a scrape gets: every worker's figures summed, and the pipeline's gauges.
    Call `metrics.flush()` first, on the event loop that records them."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    if metrics.shared:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        assert metrics.registry is not None
        registry.register(_Forward(metrics.registry))
    if gauges is not None:
        registry.register(gauges)  # type: ignore[arg-type]
    return bytes(generate_latest(registry))


class _Forward:
    def __init__(self, registry: Any) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return iter(self.registry.collect())
