"""The HTTP driver: players and trades through the API with aiohttp, C requests in flight.

Workers take planned trades strictly in plan order (up to LOOKAHEAD x C taken at once,
at most C requests in flight). A trade is sent only once every earlier trade naming either
of its players has been answered, so each player's trades reach the server in plan order
and every answer matches the simulator's prediction; trades of different players overlap
freely. Workers take trades in order, so the trade waited on was always taken earlier and
never waits on a later one, and a sender waits on nothing but its answer: no deadlock.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from bazaar.domain.catalog import Catalog, catalog_from_document
from bazaar.domain.errors import CatalogError
from bazaar.simulate.economy_moves import (
    ADJUSTING,
    COUNTER_ACCEPT,
    COUNTER_DECLINE,
    EXPIRY_SECONDS,
    GRANT,
    NOT_TRADES,
    OFFER_ACCEPT,
    OFFER_EXPIRE,
    OFFER_TTL_SECONDS,
)
from bazaar.simulate.holdings import ItemLines
from bazaar.simulate.plan import PlannedTrade, SimulationPlan
from bazaar.simulate.planner import TradePlanner
from bazaar.simulate.reconcile import REFUSED, Answer, Reconciler
from bazaar.simulate.stats import (
    PROGRESS_EVERY,
    Progress,
    SimulationError,
    SimulationStats,
    SimulationSummary,
)

JSON_HEADERS = {"content-type": "application/json"}
RETRIES_ON_503 = 3  # a 503 means the store applied nothing, so a retry is safe
MAX_RETRY_WAIT = 2.0
NO_ANSWER = 0  # the status recorded when the connection failed or timed out
# Trades taken from the plan per request in flight. A trade waiting for an earlier trade
# of the same player holds no connection, so busy players do not idle the other workers.
LOOKAHEAD = 8


def _state(view: Mapping[str, Any]) -> tuple[int, dict[int, int]]:
    return int(view["gold"]), {int(i["item_id"]): int(i["quantity"]) for i in view["items"]}


def _goods(lines: ItemLines, gold: int) -> dict[str, Any]:
    return {"items": [{"item_id": i, "quantity": q} for i, q in lines], "gold": gold}


def _refusal(status: int, answer: bytes) -> str:
    """The 409's rule, or REFUSED for an answer that is no rule of the game."""
    if status == 409:
        return str(orjson.loads(answer).get("reason", REFUSED))
    return REFUSED


def _retry_wait(headers: Mapping[str, str], attempt: int) -> float:
    raw = headers.get("Retry-After", "")
    wait = float(raw) if raw.isdigit() else 0.1 * 2**attempt
    return min(wait, MAX_RETRY_WAIT)


class _HttpRun:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        plan: SimulationPlan,
        stats: SimulationStats,
        *,
        concurrency: int,
        rate: float | None,
        stop: threading.Event,
        api_key: str | None = None,
    ) -> None:
        self.headers = dict(JSON_HEADERS)
        if api_key:  # grants, consumptions and acting on others' offers need a server key
            self.headers["authorization"] = f"Bearer {api_key}"
        self.session = session
        self.url = url.rstrip("/")
        self.plan = plan
        self.stats = stats
        self.concurrency = max(1, concurrency)
        self.rate = rate if rate and rate > 0 else None
        self.stop = stop
        self.expiring: list[int] = []  # ids of the offers left to expire

    async def catalog(self) -> Catalog:
        try:
            async with self.session.get(f"{self.url}/catalog", headers=self.headers) as resp:
                if resp.status != 200:
                    raise SimulationError(f"GET {self.url}/catalog answered {resp.status}")
                return catalog_from_document(orjson.loads(await resp.read()))
        except (TimeoutError, aiohttp.ClientError, CatalogError, ValueError) as exc:
            raise SimulationError(f"cannot read the catalog from {self.url}: {exc}") from exc

    async def _post(self, path: str, body: bytes) -> tuple[int, bytes, float]:
        """(status, body, seconds); 503s retried after Retry-After; NO_ANSWER on failure."""
        for attempt in range(RETRIES_ON_503 + 1):
            began = time.perf_counter()
            try:
                async with self.session.post(
                    f"{self.url}{path}", data=body, headers=self.headers
                ) as resp:
                    answer = await resp.read()
                    status, headers = resp.status, resp.headers
            except (TimeoutError, aiohttp.ClientError):
                return NO_ANSWER, b"", time.perf_counter() - began
            if status == 503 and attempt < RETRIES_ON_503:
                self.stats.retried += 1
                await asyncio.sleep(_retry_wait(headers, attempt))
                continue
            return status, answer, time.perf_counter() - began
        raise AssertionError("unreachable")

    async def create_players(self, planner: TradePlanner) -> list[int]:
        ids = [0] * len(planner.residents)
        slots = iter(planner.residents)

        async def creator() -> None:
            for resident in slots:
                if self.stop.is_set():
                    return
                body = orjson.dumps(
                    {"player_class": resident.player_class, "username": resident.username}
                )
                status, answer, _ = await self._post("/players", body)
                if status != 201:
                    detail = answer[:300].decode("utf-8", "replace") or "no answer"
                    raise SimulationError(
                        f"creating player {resident.username!r} at {self.url}: {status} {detail}"
                    )
                ids[resident.slot] = int(orjson.loads(answer)["player_id"])
                self.stats.players += 1

        await asyncio.gather(*(creator() for _ in range(self.concurrency)))
        return ids

    async def trade(self, planner: TradePlanner, ids: list[int]) -> None:
        stats, reconcile = self.stats, Reconciler(planner.ledger, self.stats)
        trades = iter(planner)
        last: dict[int, asyncio.Event] = {}  # each player's latest trade taken, by slot
        started = time.perf_counter()

        async def send(trade: PlannedTrade) -> None:
            if trade.action:
                await act(trade)
                return
            body = orjson.dumps(trade.to_document(ids))
            stats.sent += 1
            status, answer, seconds = await self._post("/trades", body)
            stats.statuses[status] += 1
            if status == NO_ANSWER:
                reconcile.failed(trade)
                return
            stats.latency(seconds)
            if status == 200:
                doc = orjson.loads(answer)
                reconcile.accepted(trade, _state(doc["player_1"]), _state(doc["player_2"]))
            elif status == 409:
                reconcile.rejected(trade, str(orjson.loads(answer)["reason"]))
            else:
                reconcile.failed(trade)

        async def act(trade: PlannedTrade) -> None:
            a_trade = trade.action not in NOT_TRADES
            if a_trade:
                stats.sent += 1
            began = time.perf_counter()
            answer = await self.economy_action(trade, ids)
            if a_trade:
                stats.latency(time.perf_counter() - began)
            if answer == REFUSED and a_trade:
                reconcile.failed(trade)
                return
            reconcile.answered(trade, answer)

        async def worker() -> None:
            while not self.stop.is_set():
                trade = next(trades, None)
                if trade is None:
                    return
                before = (last.get(trade.one), last.get(trade.two))
                done = last[trade.one] = last[trade.two] = asyncio.Event()
                try:
                    if self.rate is not None:
                        delay = started + trade.index / self.rate - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    for earlier in before:
                        if earlier is not None:
                            await earlier.wait()
                    async with in_flight:
                        await send(trade)
                finally:
                    done.set()
                    for slot in (trade.one, trade.two):
                        if last.get(slot) is done:
                            del last[slot]

        in_flight = asyncio.Semaphore(self.concurrency)
        await asyncio.gather(*(worker() for _ in range(self.concurrency * LOOKAHEAD)))

    async def economy_action(self, trade: PlannedTrade, ids: list[int]) -> Answer:
        """A grant or consumption, or an offer from creation to its planned end."""
        one, two = ids[trade.one], ids[trade.two]
        if trade.action in ADJUSTING:
            path = "grants" if trade.action == GRANT else "consumptions"
            body = {**_goods(trade.lines_1, trade.gold_1), "reason": trade.kind}
            status, answer, _ = await self._post(f"/players/{one}/{path}", orjson.dumps(body))
            if status != 201:
                return _refusal(status, answer)
            after = _state(orjson.loads(answer))
            expected = trade.expected_1
            if expected is None or after == expected:
                return None
            return (expected, after, expected, after)
        counter = trade.action in (COUNTER_ACCEPT, COUNTER_DECLINE)
        expiring = trade.action == OFFER_EXPIRE
        offer = {
            "from_player_id": one,
            "to_player_id": two,
            "gives": _goods(trade.lines_1, trade.gold_1),
            "wants": _goods(trade.lines_2, trade.gold_2 + trade.extra),
            "expires_in": EXPIRY_SECONDS if expiring else OFFER_TTL_SECONDS,
        }
        status, answer, _ = await self._post("/offers", orjson.dumps(offer))
        if status != 201:
            return _refusal(status, answer)
        offer_id = int(orjson.loads(answer)["offer_id"])
        if expiring:
            self.expiring.append(offer_id)
            return None
        if counter:  # the addressee asks for the deal itself instead
            body = {
                "gives": _goods(trade.lines_2, trade.gold_2),
                "wants": _goods(trade.lines_1, trade.gold_1),
                "expires_in": OFFER_TTL_SECONDS,
            }
            status, answer, _ = await self._post(f"/offers/{offer_id}/counter", orjson.dumps(body))
            if status != 201:
                return _refusal(status, answer)
            offer_id = int(orjson.loads(answer)["offer"]["offer_id"])
        ending = "accept" if trade.action in (OFFER_ACCEPT, COUNTER_ACCEPT) else "decline"
        status, answer, _ = await self._post(f"/offers/{offer_id}/{ending}", b"")
        if status != 200:
            return _refusal(status, answer)
        return None  # as planned: the answer names no states to check against

    async def expired(self, timeout: float = 10.0) -> int:
        """Wait until the server's sweeper has recorded the expiry of every offer left to
        expire (an offer reads expired at its deadline; `resolved_at` says it is recorded,
        its event written); how many were."""
        waiting = list(self.expiring)
        deadline = time.monotonic() + timeout
        await asyncio.sleep(EXPIRY_SECONDS)
        while waiting and time.monotonic() < deadline:
            still = []
            for offer_id in waiting:
                try:
                    async with self.session.get(
                        f"{self.url}/offers/{offer_id}", headers=self.headers
                    ) as resp:
                        doc = orjson.loads(await resp.read()) if resp.status == 200 else {}
                except (TimeoutError, aiohttp.ClientError):
                    doc = {}
                if doc.get("resolved_at") is None:
                    still.append(offer_id)
            waiting = still
            if waiting:
                await asyncio.sleep(0.2)
        return len(self.expiring) - len(waiting)


async def _report(progress: Progress, stats: SimulationStats) -> None:
    while True:
        progress(stats)
        await asyncio.sleep(PROGRESS_EVERY)


async def simulate_over_http(
    url: str,
    plan: SimulationPlan,
    *,
    concurrency: int = 64,
    rate: float | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    api_key: str | None = None,
) -> SimulationSummary:
    stats = SimulationStats(planned=plan.trades)
    stopped = stop or threading.Event()
    connector = aiohttp.TCPConnector(limit=max(1, concurrency), force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    reporter = asyncio.create_task(_report(progress, stats)) if progress else None
    ids: list[int] = []
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            run = _HttpRun(
                session, url, plan, stats, concurrency=concurrency, rate=rate, stop=stopped,
                api_key=api_key,
            )  # fmt: skip
            planner = TradePlanner(await run.catalog(), plan)
            ids = await run.create_players(planner)
            stats.trading_started = time.perf_counter()
            stats.phase = "trading"
            if not stopped.is_set():
                await run.trade(planner, ids)
            stats.finished = time.perf_counter()
            if run.expiring and not stopped.is_set():  # after the trading time: a wait
                stats.phase = "waiting for offers to expire"
                stats.economy["offers expired"] += await run.expired()
    finally:
        if stats.finished is None:
            stats.finished = time.perf_counter()
        stats.phase = "done"
        if reporter is not None:
            reporter.cancel()
    if progress is not None:
        progress(stats)
    complete = stats.players == plan.players
    return SimulationSummary.of(
        stats,
        target=url,
        exploiter_accounts=len(planner.cast.slots),
        interrupted=stopped.is_set(),
        player_ids=ids if complete else [],
        truth=planner.truth(ids) if complete else {},
    )
