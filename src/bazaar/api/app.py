"""The Starlette application: thin handlers that parse, call the store, and render."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from bazaar.api.auth import AuthPolicy, Caller, require_reader, require_server
from bazaar.api.batching import TradeBatcher
from bazaar.api.body import parse_json, read_body
from bazaar.api.errors import (
    REJECTED_TRADE_STATUS,
    error_body,
    from_validation_error,
    http_answer,
)
from bazaar.api.limits import drops
from bazaar.api.observe import ObservedApp, RequestObserver
from bazaar.api.openapi import openapi_document
from bazaar.api.params import path_id
from bazaar.api.schemas import (
    PlayerIn,
    TradeIn,
    player_view,
    trade_record_view,
    trade_result_view,
)
from bazaar.domain.errors import ArchivedTrade, BazaarError, InvalidRequest, StoreUnavailable
from bazaar.domain.model import NewPlayer, check_username, resolve_class
from bazaar.domain.trading import Accepted
from bazaar.store.base import Idempotency, Store
from bazaar.telemetry.metrics import ApiMetrics

if TYPE_CHECKING:
    from bazaar.lake.archive import LakeArchive

log = logging.getLogger("bazaar.api")

MAX_IDEMPOTENCY_KEY = 255


_JSON_TYPE = (b"content-type", b"application/json")


class JSON(Response):
    """A JSON answer: Starlette's Response, with the body rendered by orjson and the two
    headers every answer has built directly (no header mapping to normalise; Response's own
    __init__, render and media_type are not used)."""

    def __init__(
        self, content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status_code
        self.background = None
        self.body = body = orjson.dumps(content)
        raw = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()
        ]
        if status_code >= 200 and status_code not in (204, 304):
            raw.append((b"content-length", b"%d" % len(body)))
        raw.append(_JSON_TYPE)
        self.raw_headers = raw


def _error(error: BazaarError) -> JSON:
    answer = http_answer(error)
    body = error_body(error)
    if isinstance(error, StoreUnavailable):
        # The cause names hosts, ports and driver errors: the log's business, not a client's.
        log.warning("store unavailable: %s", error.detail)
        body["detail"] = f"store unavailable; retry after {error.retry_after} s"
    return JSON(body, status_code=answer.status, headers=answer.headers(error))


def _idempotency(request: Request, scope: str, parsed: BaseModel) -> Idempotency | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            field="Idempotency-Key",
        )
    return Idempotency.for_request(scope, key, parsed.model_dump())


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(handler: Handler) -> Handler:
    """Every error becomes a JSON answer from the one status table; never a bare 500."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ValidationError as exc:
            body, status = from_validation_error(exc)
            return JSON(body, status_code=status)
        except BazaarError as exc:
            return _error(exc)
        except ClientDisconnect:
            # The client hung up mid-body: nothing to answer and nothing went wrong here.
            drops.client_disconnects += 1
            log.debug("client left during %s %s", request.method, request.url.path)
            return Response(status_code=400)  # never delivered
        except Exception:
            log.exception("unexpected error in %s %s", request.method, request.url.path)
            return JSON(
                {"reason": "internal_error", "detail": "unexpected server error"}, status_code=500
            )

    return run


HealthProvider = Callable[[], dict[str, Any]]  # extra /health sections, e.g. {"relay": ...}


def create_app(
    store: Store,
    *,
    rng: random.Random | None = None,
    health_provider: HealthProvider | None = None,
    auth: AuthPolicy | None = None,
    consumers: Sequence[str] = (),
    lake: str | None = None,
    archive: LakeArchive | None = None,
) -> TradeFastLane:
    """`auth` None: no server key configured, every request acts with server authority.
    `consumers`: the outbox readers whose lag /metrics reports; `lake`: the Delta Lake the
    live dashboard reads (no dashboard without one); `archive`: the lake that answers for
    trades the store has dropped (else 410)."""
    catalog = store.catalog
    policy = auth or AuthPolicy()
    draw = rng or random.Random()
    batcher = TradeBatcher(store)
    metrics = ApiMetrics()

    async def create_player(request: Request) -> Response:
        require_server(policy.authenticate(request, store), "creating a player")
        raw = await read_body(request)
        parsed = parse_json(PlayerIn, raw or b"{}")
        if parsed.username is not None:
            check_username(parsed.username)
        idem = _idempotency(request, "players", parsed)
        if parsed.player_class is None or parsed.player_class == "random":
            pc = catalog.draw_class(draw)
        else:
            pc = resolve_class(catalog, parsed.player_class)
        state = store.create_player(NewPlayer(pc.name, parsed.username), idem)
        metrics.player_created(pc.name)
        view = player_view(catalog, state)
        if policy.enabled:  # the player's own credential, shown this once (api/auth.py)
            view["token"] = policy.issue_token(store, state.player_id)
        return JSON(view, status_code=201)

    async def reader(request: Request) -> Caller:
        """Who reads: anyone when auth is off; else a credential (a token is a store read,
        kept off the event loop)."""
        if not policy.enabled:
            return policy.authenticate(request, store)
        return await run_in_threadpool(policy.authenticate, request, store)

    async def get_player(request: Request) -> Response:
        caller = await reader(request)
        player_id = path_id(request, "player_id")
        require_reader(caller, (player_id,), f"player {player_id}")
        state = store.get_player(player_id)
        return JSON(player_view(catalog, state))

    async def create_trade(request: Request) -> Response:
        require_server(policy.authenticate(request, store), "a direct trade")
        parsed = parse_json(TradeIn, await read_body(request))
        idem = _idempotency(request, "trades", parsed)
        outcome = await batcher.execute(parsed.to_domain(), idem)
        metrics.trade(outcome)
        status = 200 if isinstance(outcome, Accepted) else REJECTED_TRADE_STATUS
        return JSON(trade_result_view(catalog, outcome), status_code=status)

    async def get_trade(request: Request) -> Response:
        caller = await reader(request)
        trade_id = path_id(request, "trade_id")
        try:
            outcome = store.get_trade(trade_id)
        except ArchivedTrade:
            found = await run_in_threadpool(archive.trade, trade_id) if archive else None
            if found is None:
                raise  # 410 archived: no lake here, or it has not landed the trade yet
            sides = (found["player_1"]["player_id"], found["player_2"]["player_id"])
            require_reader(caller, sides, f"trade {trade_id}")
            return JSON(found)
        sides = (outcome.request.player_1.player_id, outcome.request.player_2.player_id)
        require_reader(caller, sides, f"trade {trade_id}")
        return JSON(trade_record_view(outcome))

    async def get_catalog(request: Request) -> Response:
        return JSON(catalog.to_document())

    async def health(request: Request) -> Response:
        store.ping()
        doc: dict[str, Any] = {
            "status": "ok",
            "store": type(store).__name__,
            "outbox_head": store.outbox_head(),
        }
        doc["http_drops"] = drops.to_document()  # this worker's, since it started
        if health_provider is not None:  # may ask a broker: keep it off the event loop
            doc.update(await run_in_threadpool(health_provider))
        return JSON(doc)

    async def openapi(request: Request) -> Response:
        return JSON(openapi_document())

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        reason = {404: "no_such_route", 405: "method_not_allowed"}.get(exc.status_code, "http")
        body = {"reason": reason, "detail": str(exc.detail)}
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request.scope["path"])
        return JSON(body, status_code=exc.status_code, headers=headers)

    routes: list[BaseRoute] = [
        Route("/players", _guarded(create_player), methods=["POST"]),
        Route("/players/{player_id}", _guarded(get_player), methods=["GET"]),
        Route("/trades", _guarded(create_trade), methods=["POST"]),
        Route("/trades/{trade_id}", _guarded(get_trade), methods=["GET"]),
        Route("/catalog", _guarded(get_catalog), methods=["GET"]),
        Route("/health", _guarded(health), methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
    ]
    from bazaar.api.offers import offer_routes  # imports this module's helpers
    from bazaar.api.operator import operator_routes  # /metrics, /docs, /dashboard

    routes += offer_routes(store, policy, reader)
    routes += operator_routes(store, metrics, consumers=consumers, lake=lake)

    def allowed_methods(path: str) -> str:
        methods: set[str] = set()
        for route in routes:
            if not isinstance(route, Route):
                continue
            match, _ = route.matches(
                {"type": "http", "path": path, "root_path": "", "method": "GET"}
            )
            if match is not Match.NONE and route.methods:
                methods |= route.methods
        return ", ".join(sorted(methods))

    app = Starlette(routes=routes, exception_handlers={HTTPException: not_found})
    app.state.store = store
    app.state.metrics = metrics
    return TradeFastLane(app, _guarded(create_trade), RequestObserver(metrics))


class TradeFastLane:
    """`POST /trades`, the hot path, goes straight to its handler; everything else through
    Starlette's routing and middleware.

    The handler is the same guarded function the route would call (same auth, parsing,
    errors and body), so behaviour is identical; what is skipped is four layers of ASGI
    wrappers per request, about a third of the API process's time per trade under load.
    """

    def __init__(self, app: Starlette, trade_handler: Handler, observer: RequestObserver) -> None:
        self.app = app
        self._observed = ObservedApp(app, observer)
        self._observer = observer
        self._trade = trade_handler

    @property
    def state(self) -> Any:
        return self.app.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/trades" and scope["method"] == "POST":
            started = time.perf_counter()
            rid = self._observer.begin(scope)
            response = await self._trade(Request(scope, receive))
            response.raw_headers.append((b"x-request-id", rid.encode("ascii")))
            await response(scope, receive, send)
            self._observer.finish(scope, "/trades", response.status_code, started)
            return
        await self._observed(scope, receive, send)


def combined_health(*providers: HealthProvider | None) -> HealthProvider:
    """One provider from several; a "degraded" status from any of them wins."""

    def provide() -> dict[str, Any]:
        doc: dict[str, Any] = {}
        degraded: list[str] = []
        for provider in providers:
            if provider is not None:
                part = provider()
                degraded += part.pop("degraded", [])
                doc.update(part)
        if degraded:
            doc["status"] = "degraded"
            doc["degraded"] = degraded
        return doc

    return provide
