"""HTTP handlers for trade offers, player tokens and player history: module-level
functions over the API's context (api/context.py), routed by `offer_routes`.

Store calls run in the thread pool: an accept is a full trade step, and several accepts,
declines and cancels in flight must not queue behind each other on the event loop (the
store's own atomic step decides every race).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bazaar.api.answers import JSON
from bazaar.api.auth import require_player, require_reader, require_server
from bazaar.api.body import parse_json, read_body
from bazaar.api.context import ApiContext
from bazaar.api.params import path_id, query_int
from bazaar.api.schemas import MAX_ID, CounterIn, OfferIn, trade_record_view
from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import format_instant
from bazaar.domain.errors import InvalidRequest
from bazaar.domain.model import TradeRequest, TradeSide
from bazaar.domain.offers import (
    Offer,
    OfferAction,
    OfferStatus,
    check_actor,
    check_new_offer,
)
from bazaar.domain.trading import Accepted
from bazaar.store.base import HistoryEntry

MAX_PAGE = 500
DEFAULT_HISTORY_PAGE = 50
ARCHIVED_HISTORY = (
    "older trades and offers have left the store after its trade retention; the lake"
    " (trades, trade_items, offers tables) holds the player's full history"
)


def _now() -> str:
    return format_instant(datetime.now(UTC))


def _side_view(catalog: Catalog, side: TradeSide) -> dict[str, Any]:
    items = []
    for line in side.items:
        item = catalog.item(line.item_id)
        items.append(
            {
                "item_id": line.item_id,
                "name": item.name if item else None,
                "value": item.value if item else None,
                "quantity": line.quantity,
            }
        )
    return {"gold": side.gold, "items": items}


def offer_view(catalog: Catalog, offer: Offer) -> dict[str, Any]:
    view: dict[str, Any] = {
        "offer_id": offer.offer_id,
        "status": offer.status.value,
        "from_player_id": offer.from_player_id,
        "to_player_id": offer.to_player_id,
        "gives": _side_view(catalog, offer.request.player_1),
        "wants": _side_view(catalog, offer.request.player_2),
        "created_at": offer.created_at,
        "expires_at": offer.expires_at,
        "resolved_at": offer.resolved_at,
    }
    if offer.trade_id is not None:
        view["trade_id"] = offer.trade_id
    if offer.reason is not None:
        view["reason"] = offer.reason
        view["detail"] = offer.detail
    if offer.counter_of is not None:
        view["counter_of"] = offer.counter_of
    if offer.countered_by is not None:
        view["countered_by"] = offer.countered_by
    return view


def _entry_view(catalog: Catalog, entry: HistoryEntry, now: str) -> dict[str, Any]:
    if entry.trade is not None:
        return {"kind": "trade", "at": entry.at, "trade": trade_record_view(entry.trade)}
    assert entry.offer is not None
    return {"kind": "offer", "at": entry.at, "offer": offer_view(catalog, entry.offer.seen_at(now))}


async def create_offer(ctx: ApiContext, request: Request) -> Response:
    caller = await ctx.writer(request)
    parsed = parse_json(OfferIn, await read_body(request))
    creator = parsed.from_player_id
    if creator is None:
        creator = caller.actor.player_id
    if creator is None:
        raise InvalidRequest(
            "from_player_id is required when acting with a server key", field="from_player_id"
        )
    require_player(caller, creator, "the offer's creator")
    offer_request = TradeRequest(
        parsed.gives.to_domain(creator), parsed.wants.to_domain(parsed.to_player_id)
    )
    checked = check_new_offer(ctx.catalog, offer_request, parsed.expires_in)
    offer = await run_in_threadpool(ctx.store.create_offer, checked, parsed.expires_in)
    ctx.metrics.offer("created")
    return JSON(offer_view(ctx.catalog, offer), status_code=201)


async def list_offers(ctx: ApiContext, request: Request) -> Response:
    caller = await ctx.reader(request)
    player_id = query_int(request, "player_id", None, 1, MAX_ID)
    limit = query_int(request, "limit", 100, 1, MAX_PAGE)
    require_reader(caller, (player_id,), f"player {player_id}'s offers")
    raw_status = request.query_params.get("status")
    status = None
    if raw_status is not None:
        try:
            status = OfferStatus(raw_status)
        except ValueError:
            known = ", ".join(s.value for s in OfferStatus)
            raise InvalidRequest(f"status must be one of {known}", field="status") from None
    offers = await run_in_threadpool(ctx.store.list_offers, player_id, status, limit)
    now = _now()
    return JSON({"offers": [offer_view(ctx.catalog, o.seen_at(now)) for o in offers]})


async def get_offer(ctx: ApiContext, request: Request) -> Response:
    caller = await ctx.reader(request)
    offer_id = path_id(request, "offer_id")
    offer = await run_in_threadpool(ctx.store.get_offer, offer_id)
    parties = (offer.from_player_id, offer.to_player_id)
    require_reader(caller, parties, f"offer {offer_id}")
    return JSON(offer_view(ctx.catalog, offer.seen_at(_now())))


async def act_on_offer(ctx: ApiContext, action: OfferAction, request: Request) -> Response:
    offer_id = path_id(request, "offer_id")
    caller = await ctx.writer(request)
    result = await run_in_threadpool(ctx.store.act_on_offer, offer_id, action, caller.actor)
    ctx.metrics.offer_result(result)
    body: dict[str, Any] = {"offer": offer_view(ctx.catalog, result.offer)}
    if result.trade is None:
        return JSON(body)
    body["trade"] = trade_record_view(result.trade)
    if isinstance(result.trade, Accepted):
        return JSON(body)
    # The trade broke a game rule at accept time: recorded, and answered like a
    # rejected POST /trades (409 with the rule's reason).
    body["reason"] = result.trade.reason.value
    body["detail"] = result.trade.detail
    return JSON(body, status_code=409)


async def counter_offer(ctx: ApiContext, request: Request) -> Response:
    """The addressee answers an open offer with its own: the original becomes countered
    (its holds released) and the counter-offer opens with the addressee's gives held."""
    offer_id = path_id(request, "offer_id")
    caller = await ctx.writer(request)
    parsed = parse_json(CounterIn, await read_body(request))
    original = await run_in_threadpool(ctx.store.get_offer, offer_id)
    check_actor(original, OfferAction.COUNTER, caller.actor)  # 403 before any detail
    counter_request = TradeRequest(
        parsed.gives.to_domain(original.to_player_id),
        parsed.wants.to_domain(original.from_player_id),
    )
    checked = check_new_offer(ctx.catalog, counter_request, parsed.expires_in)
    result = await run_in_threadpool(
        ctx.store.counter_offer, offer_id, checked, parsed.expires_in, caller.actor
    )
    ctx.metrics.offer("countered")
    ctx.metrics.offer("created")
    return JSON(
        {
            "offer": offer_view(ctx.catalog, result.counter),
            "countered": offer_view(ctx.catalog, result.original),
        },
        status_code=201,
    )


async def issue_token(ctx: ApiContext, request: Request) -> Response:
    player_id = path_id(request, "player_id")
    caller = await ctx.writer(request)
    if not ctx.auth.enabled:
        # A token minted while the server is open would become a working credential
        # the moment keys are configured: refuse rather than hand it out.
        raise InvalidRequest(
            "player tokens are issued only when server API keys are configured",
            reason="auth_disabled",
        )
    require_server(caller, "issuing a player token")
    token = await run_in_threadpool(ctx.auth.issue_token, ctx.store, player_id)
    return JSON({"player_id": player_id, "token": token}, status_code=201)


async def revoke_tokens(ctx: ApiContext, request: Request) -> Response:
    player_id = path_id(request, "player_id")
    caller = await ctx.writer(request)
    require_player(caller, player_id, "the player whose tokens are revoked")
    await run_in_threadpool(ctx.store.revoke_player_tokens, player_id)
    return Response(status_code=204)


async def history(ctx: ApiContext, request: Request) -> Response:
    caller = await ctx.reader(request)
    player_id = path_id(request, "player_id")
    limit = query_int(request, "limit", DEFAULT_HISTORY_PAGE, 1, MAX_PAGE)
    require_reader(caller, (player_id,), f"player {player_id}'s history")
    cursor = request.query_params.get("cursor")
    page = await run_in_threadpool(ctx.store.player_history, player_id, limit, cursor)
    now = _now()
    view = {
        "player_id": player_id,
        "entries": [_entry_view(ctx.catalog, e, now) for e in page.entries],
        "next_cursor": page.next_cursor,
    }
    if page.archived:  # the end of what the store keeps, not of the player's history
        view["archived"] = True
        view["archived_detail"] = ARCHIVED_HISTORY
    return JSON(view)


def offer_routes(ctx: ApiContext) -> list[Route]:
    accept, decline, cancel = OfferAction.ACCEPT, OfferAction.DECLINE, OfferAction.CANCEL
    return [
        Route("/offers", ctx.handler(create_offer), methods=["POST"]),
        Route("/offers", ctx.handler(list_offers), methods=["GET"]),
        Route("/offers/{offer_id}", ctx.handler(get_offer), methods=["GET"]),
        Route("/offers/{offer_id}/accept", ctx.handler(act_on_offer, accept), methods=["POST"]),
        Route("/offers/{offer_id}/decline", ctx.handler(act_on_offer, decline), methods=["POST"]),
        Route("/offers/{offer_id}/cancel", ctx.handler(act_on_offer, cancel), methods=["POST"]),
        Route("/offers/{offer_id}/counter", ctx.handler(counter_offer), methods=["POST"]),
        Route("/players/{player_id}/tokens", ctx.handler(issue_token), methods=["POST"]),
        Route("/players/{player_id}/tokens", ctx.handler(revoke_tokens), methods=["DELETE"]),
        Route("/players/{player_id}/history", ctx.handler(history), methods=["GET"]),
    ]
