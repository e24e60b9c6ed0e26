"""HTTP handlers for players, direct trades, the catalog and health: module-level
functions over the API's context (api/context.py), routed by app.py."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bazaar.api.answers import JSON
from bazaar.api.auth import require_reader, require_server
from bazaar.api.body import parse_json, read_body
from bazaar.api.context import ApiContext
from bazaar.api.errors import REJECTED_TRADE_STATUS
from bazaar.api.limits import drops
from bazaar.api.params import path_id
from bazaar.api.schemas import (
    PlayerIn,
    TradeIn,
    player_view,
    trade_record_view,
    trade_result_view,
)
from bazaar.domain.errors import ArchivedTrade, InvalidRequest
from bazaar.domain.model import NewPlayer, check_username, resolve_class
from bazaar.domain.trading import Accepted
from bazaar.store.base import Idempotency

MAX_IDEMPOTENCY_KEY = 255


def idempotency_of(request: Request, scope: str, parsed: BaseModel) -> Idempotency | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable() or not key.isascii():
        raise InvalidRequest(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            field="Idempotency-Key",
        )
    return Idempotency.for_request(scope, key, parsed.model_dump())


async def create_player(ctx: ApiContext, request: Request) -> Response:
    store, catalog, policy = ctx.store, ctx.catalog, ctx.auth
    require_server(policy.authenticate(request, store), "creating a player")
    raw = await read_body(request)
    parsed = parse_json(PlayerIn, raw or b"{}")
    if parsed.username is not None:
        check_username(parsed.username)
    idem = idempotency_of(request, "players", parsed)
    if parsed.player_class is None or parsed.player_class == "random":
        pc = catalog.draw_class(ctx.draw)
    else:
        pc = resolve_class(catalog, parsed.player_class)
    state = store.create_player(NewPlayer(pc.name, parsed.username), idem)
    ctx.metrics.player_created(pc.name)
    view = player_view(catalog, state)
    if policy.enabled:  # the player's own credential, shown this once (api/auth.py)
        view["token"] = policy.issue_token(store, state.player_id)
    return JSON(view, status_code=201)


async def get_player(ctx: ApiContext, request: Request) -> Response:
    caller = await ctx.reader(request)
    player_id = path_id(request, "player_id")
    require_reader(caller, (player_id,), f"player {player_id}")
    state = ctx.store.get_player(player_id)
    return JSON(player_view(ctx.catalog, state))


async def create_trade(ctx: ApiContext, request: Request) -> Response:
    require_server(ctx.auth.authenticate(request, ctx.store), "a direct trade")
    parsed = parse_json(TradeIn, await read_body(request))
    idem = idempotency_of(request, "trades", parsed)
    outcome = await ctx.batcher.execute(parsed.to_domain(), idem)
    ctx.metrics.trade(outcome)
    status = 200 if isinstance(outcome, Accepted) else REJECTED_TRADE_STATUS
    return JSON(trade_result_view(ctx.catalog, outcome), status_code=status)


async def get_trade(ctx: ApiContext, request: Request) -> Response:
    caller = await ctx.reader(request)
    trade_id = path_id(request, "trade_id")
    try:
        outcome = ctx.store.get_trade(trade_id)
    except ArchivedTrade:
        archive = ctx.archive
        found = await run_in_threadpool(archive.trade, trade_id) if archive else None
        if found is None:
            raise  # 410 archived: no lake here, or it has not landed the trade yet
        sides = (found["player_1"]["player_id"], found["player_2"]["player_id"])
        require_reader(caller, sides, f"trade {trade_id}")
        return JSON(found)
    sides = (outcome.request.player_1.player_id, outcome.request.player_2.player_id)
    require_reader(caller, sides, f"trade {trade_id}")
    return JSON(trade_record_view(outcome))


async def get_catalog(ctx: ApiContext, request: Request) -> Response:
    return JSON(ctx.catalog.to_document())


async def health(ctx: ApiContext, request: Request) -> Response:
    store = ctx.store
    store.ping()
    doc: dict[str, Any] = {
        "status": "ok",
        "store": type(store).__name__,
        "outbox_head": store.outbox_head(),
    }
    doc["http_drops"] = drops.to_document()  # this worker's, since it started
    if ctx.health_provider is not None:  # may ask a broker: keep it off the event loop
        doc.update(await run_in_threadpool(ctx.health_provider))
    return JSON(doc)
