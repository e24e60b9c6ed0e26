"""Group commit for POST /trades: trades arriving together share one store round trip.

Under load the event loop keeps parsing requests while one batch runs in the store (on a
store thread; for Redis over TCP, a reply awaited on this loop): whatever queued meanwhile
becomes the next batch. Each trade is still its own atomic step
with its own outcome and event; only the commit (SQLite) or round trip (Redis) is shared.
With one request in flight a batch is simply that one request.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from bazaar.domain.errors import BazaarError
from bazaar.domain.model import TradeRequest
from bazaar.domain.trading import TradeOutcome
from bazaar.store.base import Idempotency, Store

MAX_BATCH = 256

_Pending = tuple[TradeRequest, Idempotency | None, "asyncio.Future[TradeOutcome]"]


class TradeBatcher:
    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        in_flight = store.capabilities.batches_in_flight
        self._store = store
        self._max_batch = max_batch
        self._in_flight = in_flight
        self._queue: list[_Pending] = []
        self._draining = 0
        self._tasks: set[asyncio.Task[None]] = set()
        # A store served over the network (Redis) takes two batches in flight: while it runs
        # one script, this process sends the next and renders the previous answers. The store
        # still serialises them, each batch one atomic step after the other. SQLite writes
        # in-process under one lock, where a second batch would only wait (and cost a thread).
        self._executor = ThreadPoolExecutor(
            max_workers=in_flight, thread_name_prefix="bazaar-store"
        )

    async def execute(self, request: TradeRequest, idempotency: Idempotency | None) -> TradeOutcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[TradeOutcome] = loop.create_future()
        self._queue.append((request, idempotency, future))
        if self._draining < self._in_flight:
            self._draining += 1
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                calls = [(request, idem) for request, idem, _ in batch]
                results: list[TradeOutcome | BazaarError] | None = None
                failure: BaseException | None = None
                try:
                    if self._store.capabilities.async_trades:  # Redis: the round trip on this loop
                        results = await self._store.execute_trades_async(calls)
                    else:
                        results = await loop.run_in_executor(
                            self._executor, self._store.execute_trades, calls
                        )
                except Exception as exc:  # the whole step failed: nothing was written
                    failure = exc
                for n, (_, _, future) in enumerate(batch):
                    if future.done():
                        continue
                    if failure is not None:
                        future.set_exception(failure)
                        continue
                    assert results is not None
                    result = results[n]
                    if isinstance(result, BazaarError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining -= 1
