"""HTTP routes for trade offers, player tokens and player history (registered by app.py).

Store calls run in the thread pool: an accept is a full trade step, and several accepts,
declines and cancels in flight must not queue behind each other on the event loop (the
store's own atomic step decides every race).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bazaar.api.app import JSON, _guarded
from bazaar.api.auth import AuthPolicy, Caller, require_player, require_reader, require_server
from bazaar.api.body import parse_json, read_body
from bazaar.api.params import path_id, query_int
from bazaar.api.schemas import MAX_GOLD, MAX_ID, MAX_LINES, ItemLineIn, trade_record_view
from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import format_instant
from bazaar.domain.errors import InvalidRequest
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import (
    DEFAULT_OFFER_TTL_SECONDS,
    MAX_OFFER_TTL_SECONDS,
    Offer,
    OfferAction,
    OfferStatus,
    check_new_offer,
)
from bazaar.domain.trading import Accepted
from bazaar.store.base import HistoryEntry, Store

MAX_PAGE = 500
DEFAULT_HISTORY_PAGE = 50
ARCHIVED_HISTORY = (
    "older trades and offers have left the store after its trade retention; the lake"
    " (trades, trade_items, offers tables) holds the player's full history"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OfferSideIn(_Strict):
    items: list[ItemLineIn] = Field(default_factory=list, max_length=MAX_LINES)
    gold: int = Field(default=0, ge=0, le=MAX_GOLD)

    def to_domain(self, player_id: int) -> TradeSide:
        lines = tuple(ItemLine(i.item_id, i.quantity) for i in self.items)
        return TradeSide(player_id=player_id, items=lines, gold=self.gold)


class OfferIn(_Strict):
    """An offer from `from_player_id` (default: the token's player) to `to_player_id`:
    the creator gives `gives` and asks `wants` in return."""

    to_player_id: int = Field(ge=1, le=MAX_ID)
    from_player_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    gives: OfferSideIn = Field(default_factory=OfferSideIn)
    wants: OfferSideIn = Field(default_factory=OfferSideIn)
    expires_in: int = Field(default=DEFAULT_OFFER_TTL_SECONDS, ge=1, le=MAX_OFFER_TTL_SECONDS)


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
    return view


def _entry_view(catalog: Catalog, entry: HistoryEntry, now: str) -> dict[str, Any]:
    if entry.trade is not None:
        return {"kind": "trade", "at": entry.at, "trade": trade_record_view(entry.trade)}
    assert entry.offer is not None
    return {"kind": "offer", "at": entry.at, "offer": offer_view(catalog, entry.offer.seen_at(now))}


def offer_routes(
    store: Store, auth: AuthPolicy, reader: Callable[[Request], Awaitable[Caller]]
) -> list[Route]:
    """`reader` authenticates a read (app.py): anyone when auth is off."""
    catalog = store.catalog

    async def create_offer(request: Request) -> Response:
        caller = await run_in_threadpool(auth.authenticate, request, store)
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
        checked = check_new_offer(catalog, offer_request, parsed.expires_in)
        offer = await run_in_threadpool(store.create_offer, checked, parsed.expires_in)
        request.app.state.metrics.offer("created")
        return JSON(offer_view(catalog, offer), status_code=201)

    async def list_offers(request: Request) -> Response:
        caller = await reader(request)
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
        offers = await run_in_threadpool(store.list_offers, player_id, status, limit)
        now = _now()
        return JSON({"offers": [offer_view(catalog, o.seen_at(now)) for o in offers]})

    async def get_offer(request: Request) -> Response:
        caller = await reader(request)
        offer_id = path_id(request, "offer_id")
        offer = await run_in_threadpool(store.get_offer, offer_id)
        parties = (offer.from_player_id, offer.to_player_id)
        require_reader(caller, parties, f"offer {offer_id}")
        return JSON(offer_view(catalog, offer.seen_at(_now())))

    def acting(action: OfferAction) -> Any:
        async def act(request: Request) -> Response:
            offer_id = path_id(request, "offer_id")
            caller = await run_in_threadpool(auth.authenticate, request, store)
            result = await run_in_threadpool(store.act_on_offer, offer_id, action, caller.actor)
            request.app.state.metrics.offer_result(result)
            body: dict[str, Any] = {"offer": offer_view(catalog, result.offer)}
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

        return act

    async def issue_token(request: Request) -> Response:
        player_id = path_id(request, "player_id")
        caller = await run_in_threadpool(auth.authenticate, request, store)
        if not auth.enabled:
            # A token minted while the server is open would become a working credential
            # the moment keys are configured: refuse rather than hand it out.
            raise InvalidRequest(
                "player tokens are issued only when server API keys are configured",
                reason="auth_disabled",
            )
        require_server(caller, "issuing a player token")
        token = await run_in_threadpool(auth.issue_token, store, player_id)
        return JSON({"player_id": player_id, "token": token}, status_code=201)

    async def revoke_tokens(request: Request) -> Response:
        player_id = path_id(request, "player_id")
        caller = await run_in_threadpool(auth.authenticate, request, store)
        require_player(caller, player_id, "the player whose tokens are revoked")
        await run_in_threadpool(store.revoke_player_tokens, player_id)
        return Response(status_code=204)

    async def history(request: Request) -> Response:
        caller = await reader(request)
        player_id = path_id(request, "player_id")
        limit = query_int(request, "limit", DEFAULT_HISTORY_PAGE, 1, MAX_PAGE)
        require_reader(caller, (player_id,), f"player {player_id}'s history")
        cursor = request.query_params.get("cursor")
        page = await run_in_threadpool(store.player_history, player_id, limit, cursor)
        now = _now()
        view = {
            "player_id": player_id,
            "entries": [_entry_view(catalog, e, now) for e in page.entries],
            "next_cursor": page.next_cursor,
        }
        if page.archived:  # the end of what the store keeps, not of the player's history
            view["archived"] = True
            view["archived_detail"] = ARCHIVED_HISTORY
        return JSON(view)

    return [
        Route("/offers", _guarded(create_offer), methods=["POST"]),
        Route("/offers", _guarded(list_offers), methods=["GET"]),
        Route("/offers/{offer_id}", _guarded(get_offer), methods=["GET"]),
        Route("/offers/{offer_id}/accept", _guarded(acting(OfferAction.ACCEPT)), methods=["POST"]),
        Route(
            "/offers/{offer_id}/decline", _guarded(acting(OfferAction.DECLINE)), methods=["POST"]
        ),
        Route("/offers/{offer_id}/cancel", _guarded(acting(OfferAction.CANCEL)), methods=["POST"]),
        Route("/players/{player_id}/tokens", _guarded(issue_token), methods=["POST"]),
        Route("/players/{player_id}/tokens", _guarded(revoke_tokens), methods=["DELETE"]),
        Route("/players/{player_id}/history", _guarded(history), methods=["GET"]),
    ]
