"""HTTP handlers for faucets and sinks: POST /players/{id}/grants and /consumptions (server
key only), module-level functions over the API's context (api/context.py).

Each answers 201 with the player's state after the change; a rule the change breaks
(capacity, goods not free) is 409 with the rule's reason, and an unknown reason or item
is 422. An Idempotency-Key makes a retry answer the first result without applying twice.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bazaar.api.answers import JSON
from bazaar.api.auth import require_server
from bazaar.api.body import parse_json, read_body
from bazaar.api.context import ApiContext
from bazaar.api.params import path_id
from bazaar.api.players import idempotency_of
from bazaar.api.schemas import AdjustmentIn, player_view
from bazaar.domain.grants import AdjustmentKind, check_adjustment

_SCOPE = {AdjustmentKind.GRANT: "grants", AdjustmentKind.CONSUMPTION: "consumptions"}


async def adjust(ctx: ApiContext, kind: AdjustmentKind, request: Request) -> Response:
    player_id = path_id(request, "player_id")
    caller = await ctx.writer(request)
    require_server(caller, f"a {kind.value}")
    parsed = parse_json(AdjustmentIn, await read_body(request))
    # The key is per player: the same key for two players is two requests.
    idem = idempotency_of(request, f"{_SCOPE[kind]}:{player_id}", parsed)
    adjustment = check_adjustment(ctx.catalog, parsed.to_domain(kind, player_id), ctx.reasons)
    adjusted = await run_in_threadpool(ctx.store.adjust, adjustment, idem)
    ctx.metrics.adjustment(kind.value, adjustment.reason)
    view = player_view(ctx.catalog, adjusted.player)
    view[f"{kind.value}_id"] = adjusted.adjustment_id
    return JSON(view, status_code=201)


def economy_routes(ctx: ApiContext) -> list[Route]:
    grant, consumption = AdjustmentKind.GRANT, AdjustmentKind.CONSUMPTION
    return [
        Route("/players/{player_id}/grants", ctx.handler(adjust, grant), methods=["POST"]),
        Route(
            "/players/{player_id}/consumptions", ctx.handler(adjust, consumption), methods=["POST"]
        ),
    ]
