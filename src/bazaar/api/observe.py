"""Each answer measured and named: request ids, per-route metrics and the access log.

Every answer carries `X-Request-ID`: the client's own when it sent a usable one (1 to 128
printable ASCII characters), else one made here (a per-process prefix and a counter: unique
across workers and restarts, and cheaper than a uuid on the hot path). The id is in every
log line written while the request is answered (telemetry/logs.py).

`POST /trades` is measured inline by TradeFastLane (api/app.py) through `begin`/`finish`;
every other route through `ObservedApp`, an ASGI wrapper around Starlette that reads the
matched route's template (so `/players/{player_id}`, never one series per player).
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bazaar.telemetry.logs import request_id
from bazaar.telemetry.metrics import ApiMetrics

access_log = logging.getLogger("bazaar.access")
MAX_REQUEST_ID = 128
UNMATCHED_ROUTE = "unmatched"  # 404s: one series, whatever paths clients try


def _client_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            if 1 <= len(value) <= MAX_REQUEST_ID and all(33 <= b <= 126 for b in value):
                return str(value.decode("ascii"))
            return None
    return None


class RequestObserver:
    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics
        self._prefix = f"{secrets.token_hex(4)}{os.getpid():x}-"
        self._next = itertools.count(1)

    def begin(self, scope: Scope) -> str:
        """The request's id, made current for the log lines written while answering it."""
        rid = _client_id(scope) or f"{self._prefix}{next(self._next)}"
        request_id.set(rid)
        return rid

    def finish(self, scope: Scope, route: str, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        self.metrics.request(route, status, seconds)
        if status >= 500:  # the server's failure, never the client's
            self.metrics.store_error("store_unavailable" if status == 503 else "internal_error")
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %d",
                scope["method"],
                scope["path"],
                status,
                extra={"route": route, "status": status, "duration_ms": round(seconds * 1e3, 3)},
            )


class ObservedApp:
    """Starlette, measured: the route template and status of every answer it gives."""

    def __init__(self, app: ASGIApp, observer: RequestObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = self.observer.begin(scope).encode("ascii")
        status = [500]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", rid)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route: Any = scope.get("route")
            self.observer.finish(scope, getattr(route, "path", UNMATCHED_ROUTE), status[0], started)
