"""The OpenAPI 3.1 description served at /openapi.json, generated from the request models
(api/schemas.py) and the answer models (api/answer_schemas.py).

What is written here is what pydantic cannot know: the paths, their parameters, which
model answers which status, and the errors an operation can meet. Every operation also
lists the answers of the layers before it: the HTTP protocol's limits to all, auth's to
those that take a credential, the body rules' to those with a body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from bazaar import __version__
from bazaar.api.answer_schemas import (
    ANSWERS,
    AdjustedPlayer,
    Error,
    HistoryPage,
    Offer,
    OfferActed,
    OfferCountered,
    OfferList,
    Player,
    PlayerToken,
    TradeRecord,
    TradeResult,
)
from bazaar.api.schemas import MAX_ID, AdjustmentIn, CounterIn, OfferIn, PlayerIn, TradeIn

REQUESTS: tuple[type[BaseModel], ...] = (PlayerIn, TradeIn, OfferIn, CounterIn, AdjustmentIn)


def _json(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


_ERROR_TEXT = {
    401: "no valid credential while the server has keys configured (see WWW-Authenticate)",
    403: "the credential may not act on, or read, this player, trade or offer",
    404: "unknown id (an id that is not 1 to 2^63-1 in ASCII digits is unknown too)",
    408: "the request head, or its body, did not arrive within the request timeout",
    409: "offer not open (accepted, declined, cancelled, expired, failed or countered), or"
    " goods not free or not fitting (reason insufficient_items, insufficient_gold,"
    " capacity_exceeded)",
    410: "existed, but left the store after its retention (reason archived); the lake holds it",
    413: "body over 64 KiB",
    415: "a body that is not Content-Type: application/json",
    422: "malformed input (reason and field say what; duplicate_key for a key sent twice)",
    429: "rate limit for this credential, or too many failed authentications from this"
    " address: retry after Retry-After seconds",
    431: "request line and headers over the server's limit (16 KiB by default)",
    503: "store unavailable, or this worker at its connection limit: retry after"
    " Retry-After seconds",
}
# Any request may meet the HTTP layer's limits (api/limits.py) before the app sees it.
_EVERY_OPERATION = (408, 431, 503)
# Any request may need a credential (when the server has keys) and spend a rate limit.
_AUTHENTICATED = (401, 429)


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": _ERROR_TEXT[c], "content": _json(Error)} for c in codes}


_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe key: the same key and body execute once and answer the same.",
    # printable ASCII; no space at either end (HTTP would strip it)
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": "^[!-~]([ -~]*[!-~])?$",
    },
}


_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": _ID}


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]  # enforced when keys are configured
_STATUSES = ["open", "accepted", "declined", "cancelled", "expired", "failed", "countered"]


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500})


def _operation(
    summary: str,
    answers: Mapping[int, tuple[str, type[BaseModel] | None]],
    *,
    errors: Sequence[int] = (),
    params: Sequence[dict[str, Any]] = (),
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    secured: bool = True,
    description: str | None = None,
) -> dict[str, Any]:
    """One operation: its own answers (description, model), the errors it can meet, and
    those of the layers before it."""
    codes = [*errors, *_EVERY_OPERATION]
    operation: dict[str, Any] = {"summary": summary}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = list(params)
    if secured:
        operation["security"] = _BEARER
        codes += _AUTHENTICATED
    if body is not None:
        operation["requestBody"] = {"content": _json(body)}
        if body_required:
            operation["requestBody"]["required"] = True
        codes += (413, 415, 422)
    responses: dict[str, Any] = {}
    for status, (text, model) in answers.items():
        responses[str(status)] = {"description": text}
        if model is not None:
            responses[str(status)]["content"] = _json(model)
    for code, answer in _errors(*codes).items():
        responses.setdefault(code, answer)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _paths() -> dict[str, Any]:
    player_id, trade_id, offer_id = map(_id_param, ("player_id", "trade_id", "offer_id"))
    paths: dict[str, Any] = {
        "/players": {"post": _operation(
            "Create a player (class drawn by weight when absent or random)",
            {201: ("created", Player)}, errors=(403, 422), params=[_IDEMPOTENCY],
            body=PlayerIn, body_required=False,
        )},
        "/players/{player_id}": {"get": _operation(
            "A player's current state", {200: ("the player", Player)},
            errors=(403, 404), params=[player_id],
        )},
        "/trades": {"post": _operation(
            "Execute a two-sided trade atomically",
            {200: ("accepted", TradeResult),
             409: ("rejected by a game rule (recorded)", TradeResult)},
            errors=(403, 404, 422), params=[_IDEMPOTENCY], body=TradeIn,
        )},
        "/trades/{trade_id}": {"get": _operation(
            "A recorded trade, accepted or rejected", {200: ("the trade", TradeRecord)},
            errors=(403, 404, 410), params=[trade_id],
            description="Trades older than the server's --trade-retention come from the"
            " lake when the server has one (marked source: lake), else 410.",
        )},
        "/catalog": {"get": _operation(
            "Items and player classes", {200: ("the catalog", None)}, secured=False
        )},
        "/health": {"get": _operation(
            "Liveness and store reachability", {200: ("ok", None)}, secured=False
        )},
        "/offers": {
            "post": _operation(
                "Offer a trade to another player (player token: from its player); its"
                " gives are held in escrow until it ends",
                {201: ("the open offer", Offer)}, errors=(403, 404, 409, 422), body=OfferIn,
            ),
            "get": _operation(
                "Offers made by or to a player, newest first", {200: ("offers", OfferList)},
                errors=(403, 404, 422),
                params=[_query("player_id", _ID, required=True),
                        _query("status", {"enum": _STATUSES}), _LIMIT],
            ),
        },
        "/offers/{offer_id}": {"get": _operation(
            "One offer (an open offer past its expiry reads as expired)",
            {200: ("the offer", Offer)}, errors=(403, 404, 410), params=[offer_id],
        )},
        "/players/{player_id}/tokens": {
            "post": _operation(
                "Issue a player token (server key only; shown once)",
                {201: ("player_id and token", PlayerToken)}, errors=(403, 404, 422),
                params=[player_id],
            ),
            "delete": _operation(
                "Revoke every token of the player (server key, or its own token)",
                {204: ("revoked: each of its tokens now answers 401", None)},
                errors=(403, 404), params=[player_id],
            ),
        },
        "/players/{player_id}/history": {"get": _operation(
            "The player's trades and offers, newest first, by cursor pages",
            {200: ("a page", HistoryPage)}, errors=(403, 404, 422),
            params=[player_id, _LIMIT,
                    _query("cursor", {"type": "string", "description": "a page's next_cursor"})],
        )},
    }  # fmt: skip
    for verb, who in (("accept", "addressee"), ("decline", "addressee"), ("cancel", "creator")):
        paths[f"/offers/{{offer_id}}/{verb}"] = {"post": _operation(
            f"{verb.capitalize()} an open offer (its {who}, or a server key)",
            {200: ("the offer after the change", OfferActed)},
            errors=(403, 404, 409, 410), params=[offer_id],
        )}  # fmt: skip
    paths["/offers/{offer_id}/counter"] = {"post": _operation(
        "Answer an open offer with a counter-offer (its addressee, or a server key): the"
        " original becomes countered, its holds released, and the counter-offer opens from"
        " the addressee to the creator with its gives held",
        {201: ("offer: the counter-offer; countered: the original", OfferCountered)},
        errors=(403, 404, 409, 410, 422), params=[offer_id], body=CounterIn,
    )}  # fmt: skip
    for verb, what in (("grants", "Grant goods to"), ("consumptions", "Consume goods of")):
        paths[f"/players/{{player_id}}/{verb}"] = {"post": _operation(
            f"{what} a player (server key only): a faucet or a sink, with a reason from the"
            " server's list (--adjustment-reasons)",
            {201: ("the player after it", AdjustedPlayer)},
            errors=(403, 404, 409, 422), params=[player_id, _IDEMPOTENCY], body=AdjustmentIn,
        )}  # fmt: skip
    return paths


_SECURITY = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A server API key, or a player token (acts for its player only)."
        " Required on writes when the server has keys configured.",
    }
}


@cache
def openapi_document() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((m, "validation") for m in REQUESTS),
        *((m, "serialization") for m in ANSWERS),
    ]
    _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bazaar",
            "version": __version__,
            "description": "Trade engine for an online fantasy game. Every change is an event.",
        },
        "paths": _paths(),
        "components": {"schemas": defs.get("$defs", {}), "securitySchemes": _SECURITY},
    }
