"""Running a simulation: `run_simulation(target, plan)` over HTTP or straight into a Store.

    summary = run_simulation("http://127.0.0.1:8000", SimulationPlan(players=100, trades=2000))
    summary = run_simulation(store, plan)   # in-process: no HTTP, for generating data fast

Both drivers send the same planned trades (see planner.py for why the sequence depends on
the seed only). In-process, trades go to `Store.execute_trades` in batches, so the SQLite
store commits a batch at a time (group commit); each trade is still its own atomic step
with its own event. `stop` (a threading.Event, e.g. set by a Ctrl-C handler) ends a run
cleanly: no new trades are taken, those in flight are answered, and the summary is returned.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator

from bazaar.domain.model import NewPlayer
from bazaar.simulate.economy_calls import expire_left_offers, run_orders
from bazaar.simulate.economy_moves import NOT_TRADES
from bazaar.simulate.pipeline import StoreWorkerFailed, run_pipelined
from bazaar.simulate.plan import PlannedTrade, SimulationPlan, TradeRequests
from bazaar.simulate.planner import TradePlanner
from bazaar.simulate.reconcile import Answer, Checker, Reconciler, order_of
from bazaar.simulate.stats import (
    PROGRESS_EVERY,
    Progress,
    SimulationError,
    SimulationStats,
    SimulationSummary,
)
from bazaar.store.base import Store

IN_PROCESS_BATCH = 1000
# The planner and the store side by side, where there is a second core to run them on.
IN_PROCESS_PROCESSES = min(2, os.cpu_count() or 1)


def run_simulation(
    target: str | Store,
    plan: SimulationPlan,
    *,
    concurrency: int = 64,
    rate: float | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    batch: int = IN_PROCESS_BATCH,
    api_key: str | None = None,
) -> SimulationSummary:
    """Create `plan.players` players and drive `plan.trades` trades at an API URL or a Store.

    `concurrency` and `rate` (trades per second, None = as fast as possible) apply to HTTP;
    `batch` is the in-process group-commit size; `api_key`, a server key for an API with
    auth on (grants, consumptions and offers made for players need one).
    Raises SimulationError or ValueError.
    """
    if isinstance(target, str):
        import asyncio

        from bazaar.simulate.http_driver import simulate_over_http

        return asyncio.run(
            simulate_over_http(
                target,
                plan,
                concurrency=concurrency,
                rate=rate,
                progress=progress,
                stop=stop,
                api_key=api_key,
            )
        )
    return simulate_in_process(target, plan, progress=progress, stop=stop, batch=batch)


class _Ticker:
    """Calls `progress` at most every PROGRESS_EVERY seconds, and always when forced."""

    def __init__(self, progress: Progress | None, stats: SimulationStats) -> None:
        self._progress = progress
        self._stats = stats
        self._last = 0.0

    def __call__(self, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.perf_counter()
        if force or now - self._last >= PROGRESS_EVERY:
            self._last = now
            self._progress(self._stats)


def simulate_in_process(
    store: Store,
    plan: SimulationPlan,
    *,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    batch: int = IN_PROCESS_BATCH,
    processes: int = IN_PROCESS_PROCESSES,
) -> SimulationSummary:
    """Players, then trades in batches of `batch` through `store.execute_trades`.

    With `processes` = 2 and a store that can be used across fork() (SQLite), the store
    runs in a child process while this one plans the next batch (pipeline.py)."""
    planner = TradePlanner(store.catalog, plan)
    stats = SimulationStats(planned=plan.trades)
    tick = _Ticker(progress, stats)
    stopped = stop or threading.Event()
    ids: list[int] = []
    for resident in planner.residents:
        if stopped.is_set():
            break
        created = store.create_player(NewPlayer(resident.player_class, resident.username))
        ids.append(created.player_id)
        stats.players += 1
        tick()
    reconcile = Reconciler(planner.ledger, stats)
    stats.trading_started = time.perf_counter()
    stats.phase = "trading"
    trades = iter(planner) if len(ids) == plan.players else iter(())
    chunks = _chunks(trades, batch, stopped)
    # Each answer is checked against a model of the trades answered so far
    # (reconcile.Checker); the planner's model runs a batch or two ahead of it.
    planner.snapshots = False
    if store.capabilities.forkable and processes > 1:

        def answered(count: int, seconds: float, chunk: list[PlannedTrade],
                     answers: list[Answer]) -> None:  # fmt: skip
            _tally_answers(stats, reconcile, chunk, answers, seconds / count)
            tick()

        try:  # the checker runs in the store's process, over the ledger as at fork
            run_pipelined(store, planner.ledger, ids, chunks, answered)
        except StoreWorkerFailed as exc:
            raise SimulationError(f"the store failed: {exc}") from exc
    else:
        checker = Checker(planner.ledger.copy())
        request = TradeRequests(ids)
        for chunk in chunks:
            orders = [order_of(t) for t in chunk]
            began = time.perf_counter()
            results = run_orders(store, request, ids, orders)
            elapsed = time.perf_counter() - began
            answers = [checker.answer(o, r) for o, r in zip(orders, results, strict=True)]
            _tally_answers(stats, reconcile, chunk, answers, elapsed / len(chunk))
            tick()
    stats.finished = time.perf_counter()
    left = stats.economy["offers left to expire"]
    if left and not stopped.is_set():  # after the trading time: a wait, not work
        stats.phase = "waiting for offers to expire"
        tick(force=True)
        stats.economy["offers expired"] += expire_left_offers(store, left)
    stats.phase = "done"
    tick(force=True)
    return SimulationSummary.of(
        stats,
        target=f"in-process {type(store).__name__}",
        exploiter_accounts=len(planner.cast.slots),
        interrupted=stopped.is_set(),
        player_ids=ids,
        truth=planner.truth(ids) if len(ids) == plan.players else {},
    )


def _chunks(
    trades: Iterator[PlannedTrade], size: int, stopped: threading.Event
) -> Iterator[list[PlannedTrade]]:
    while not stopped.is_set():
        chunk = list(itertools.islice(trades, size))
        if not chunk:
            return
        yield chunk


def _tally_answers(
    stats: SimulationStats,
    reconcile: Reconciler,
    chunk: list[PlannedTrade],
    answers: list[Answer],
    per_trade: float,
) -> None:
    for trade, answer in zip(chunk, answers, strict=True):
        if trade.action not in NOT_TRADES:  # trades, and trades run as offers
            stats.sent += 1
            stats.latency(per_trade)
        reconcile.answered(trade, answer)
