"""The in-process driver over two processes: this one plans, a forked one runs the store.

Planning a trade and executing it cost about the same CPU, so on a machine with two cores
the planner (this process) and `Store.execute_trades` (a child forked after the players
exist) run side by side, a batch apart. Economy actions (grants, consumptions, offers) ride
in the same batches, carried out in the order the plan gives (economy_calls.py). The
request sequence is still the planner's alone, so a seed gives the same trades as the
one-process loop.

The child keeps its own copy of the simulator's model (a `reconcile.Checker` over the ledger
as it was at fork) and compares every answer with it; only answers unlike the model travel
back, with what was expected, and the planner's `Reconciler` moves its model by exactly
that, so per trade just its request and its predicted outcome cross the pipe.
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection

from bazaar.simulate.economy_calls import run_orders
from bazaar.simulate.holdings import Ledger
from bazaar.simulate.plan import PlannedTrade, TradeRequests
from bazaar.simulate.reconcile import Answer, Checker, Order, order_of
from bazaar.store.base import Store

IN_FLIGHT = 2  # batches sent and not yet answered: one running, one queued behind it
OnBatch = Callable[[int, float, list["PlannedTrade"], list[Answer]], None]


class StoreWorkerFailed(Exception):
    """The store process stopped with an error (e.g. the store became unavailable)."""


def _store_worker(store: Store, ledger: Ledger, ids: list[int], orders: Connection,
                  answers: Connection) -> None:  # fmt: skip
    """The child: execute each batch of orders, answer with what differs from the model."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    checker = Checker(ledger)
    request = TradeRequests(ids)
    try:
        while True:
            message = orders.recv_bytes()
            if not message:
                break
            batch: list[Order] = pickle.loads(message)
            began = time.perf_counter()
            results = run_orders(store, request, ids, batch)
            elapsed = time.perf_counter() - began
            out = [checker.answer(o, r) for o, r in zip(batch, results, strict=True)]
            answers.send_bytes(pickle.dumps((elapsed, out), pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # reported to the parent, which raises it there
        answers.send_bytes(pickle.dumps((-1.0, f"{type(exc).__name__}: {exc}")))
    finally:
        store.close()


def run_pipelined(
    store: Store,
    ledger: Ledger,
    ids: list[int],
    batches: Iterator[Sequence[PlannedTrade]],
    on_batch: OnBatch,
) -> None:
    """Send `batches` to a forked store process, at most IN_FLIGHT ahead of its answers.

    `ledger` must be the model as it stands before the first batch (the child copies it at
    fork). `on_batch(count, seconds, trades, answers)` sees each answered batch in order.
    """
    ctx = multiprocessing.get_context("fork")
    orders_in, orders_out = ctx.Pipe(duplex=False)  # (receiving end, sending end)
    answers_in, answers_out = ctx.Pipe(duplex=False)
    store.close()  # no connection may cross the fork; this process reopens on next use
    child = ctx.Process(
        target=_store_worker,
        args=(store, ledger, ids, orders_in, answers_out),
        name="bazaar-simulate-store",
        daemon=True,
    )
    child.start()
    orders_in.close()
    answers_out.close()
    sender = _Sender(orders_out)
    waiting: list[list[PlannedTrade]] = []
    try:
        for chunk in batches:
            trades = list(chunk)
            sender.put(pickle.dumps([order_of(t) for t in trades], pickle.HIGHEST_PROTOCOL))
            waiting.append(trades)
            while len(waiting) >= IN_FLIGHT:
                _answered(answers_in, waiting.pop(0), on_batch)
        while waiting:
            _answered(answers_in, waiting.pop(0), on_batch)
    finally:
        sender.put(b"")
        sender.close()
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
        answers_in.close()


def _answered(answers: Connection, trades: list[PlannedTrade], on_batch: OnBatch) -> None:
    try:
        elapsed, out = pickle.loads(answers.recv_bytes())
    except EOFError as exc:
        raise StoreWorkerFailed("the store process ended without answering") from exc
    if elapsed < 0:
        raise StoreWorkerFailed(str(out))
    on_batch(len(trades), elapsed, trades, out)


class _Sender:
    """Writes batches to the child from a thread, so a full pipe never blocks planning
    (and the child, answering, never waits on a parent that is itself blocked sending)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="simulate-sender", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._conn.send_bytes(item)
            except OSError:
                return  # the child is gone; the parent finds out reading its answers

    def put(self, message: bytes) -> None:
        self._queue.put(message)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)
        self._conn.close()
