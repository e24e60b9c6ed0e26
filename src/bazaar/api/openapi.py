"""The OpenAPI 3.1 description served at /openapi.json, built from the request models."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from bazaar import __version__
from bazaar.api.schemas import MAX_ID, OfferIn, PlayerIn, TradeIn

_ERROR = {
    "type": "object",
    "required": ["reason", "detail"],
    "properties": {
        "reason": {"type": "string", "description": "machine-readable cause"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the offending field, when there is one"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
_ITEM = {
    "type": "object",
    "properties": {
        "item_id": {"type": "integer"},
        "name": {"type": "string"},
        "value": {"type": "integer"},
        "quantity": {"type": "integer"},
    },
}
_PLAYER = {
    "type": "object",
    "properties": {
        "player_id": {"type": "integer"},
        "username": {"type": "string"},
        "player_class": {"type": "string"},
        "gold": {"type": "integer"},
        "capacity": {"type": "integer"},
        "version": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "items": {"type": "array", "items": {"$ref": "#/components/schemas/HeldItem"}},
    },
}
_TRADE_RESULT = {
    "type": "object",
    "properties": {
        "trade_id": {"type": "integer"},
        "status": {"enum": ["accepted", "rejected"]},
        "executed_at": {"type": "string", "format": "date-time"},
        "player_1": {"$ref": "#/components/schemas/Player"},
        "player_2": {"$ref": "#/components/schemas/Player"},
        "reason": {
            "enum": [
                "unknown_item",
                "insufficient_items",
                "insufficient_gold",
                "capacity_exceeded",
                "self_trade",
                "empty_trade",
            ]
        },
        "detail": {"type": "string"},
    },
}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


_ERROR_TEXT = {
    401: "no valid credential while the server has keys configured (see WWW-Authenticate)",
    403: "the credential may not act on, or read, this player, trade or offer",
    404: "unknown id (an id that is not 1 to 2^63-1 in ASCII digits is unknown too)",
    408: "the request head, or its body, did not arrive within the request timeout",
    409: "offer not open (accepted, declined, cancelled, expired or failed)",
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
    return {str(c): {"description": _ERROR_TEXT[c], "content": _json("Error")} for c in codes}


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
_STATUSES = ["open", "accepted", "declined", "cancelled", "expired", "failed"]


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500})


def _offer_paths() -> dict[str, Any]:
    offer_id = _id_param("offer_id")
    act: dict[str, Any] = {
        "parameters": [offer_id],
        "security": _BEARER,
        "responses": {"200": {"description": "the offer after the change"}},
    }
    paths: dict[str, Any] = {
        "/offers": {
            "post": {
                "summary": "Offer a trade to another player (player token: from its player)",
                "security": _BEARER,
                "requestBody": {"required": True, "content": _json("OfferIn")},
                "responses": {
                    "201": {"description": "the open offer"},
                    **_errors(403, 404, 422),
                },
            },
            "get": {
                "summary": "Offers made by or to a player, newest first",
                "parameters": [
                    _query("player_id", _ID, required=True),
                    _query("status", {"enum": _STATUSES}),
                    _LIMIT,
                ],
                "security": _BEARER,
                "responses": {"200": {"description": "offers"}, **_errors(403, 404, 422)},
            },
        },
        "/offers/{offer_id}": {
            "get": {
                "summary": "One offer (an open offer past its expiry reads as expired)",
                "parameters": [offer_id],
                "security": _BEARER,
                "responses": {"200": {"description": "the offer"}, **_errors(403, 404)},
            }
        },
        "/players/{player_id}/tokens": {
            "post": {
                "summary": "Issue a player token (server key only; shown once)",
                "parameters": [_id_param("player_id")],
                "security": _BEARER,
                "responses": {
                    "201": {"description": "player_id and token"},
                    **_errors(403, 404, 422),
                },
            },
            "delete": {
                "summary": "Revoke every token of the player (server key, or its own token)",
                "parameters": [_id_param("player_id")],
                "security": _BEARER,
                "responses": {
                    "204": {"description": "revoked: each of its tokens now answers 401"},
                    **_errors(403, 404),
                },
            },
        },
        "/players/{player_id}/history": {
            "get": {
                "summary": "The player's trades and offers, newest first, by cursor pages",
                "parameters": [
                    _id_param("player_id"),
                    _LIMIT,
                    _query("cursor", {"type": "string", "description": "a page's next_cursor"}),
                ],
                "security": _BEARER,
                "responses": {"200": {"description": "a page"}, **_errors(403, 404, 422)},
            }
        },
    }
    for verb, who in (("accept", "addressee"), ("decline", "addressee"), ("cancel", "creator")):
        paths[f"/offers/{{offer_id}}/{verb}"] = {
            "post": {
                **act,
                "summary": f"{verb.capitalize()} an open offer (its {who}, or a server key)",
                "responses": {
                    **act["responses"],
                    **_errors(403, 404, 409),
                },
            }
        }
    return paths


def _complete(paths: dict[str, Any]) -> dict[str, Any]:
    """Add the answers every operation of a kind can give: the HTTP layer's to all, auth's
    to those with a credential, the body rules' to those with a body."""
    for operations in paths.values():
        for operation in operations.values():
            codes = list(_EVERY_OPERATION)
            if "security" in operation:
                codes += _AUTHENTICATED
            if "requestBody" in operation:
                codes += (413, 415, 422)
            responses = operation["responses"]
            for code, answer in _errors(*codes).items():
                responses.setdefault(code, answer)
            operation["responses"] = dict(sorted(responses.items()))
    return paths


@cache
def openapi_document() -> dict[str, Any]:
    _, defs = models_json_schema(
        [(PlayerIn, "validation"), (TradeIn, "validation"), (OfferIn, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas.update(Error=_ERROR, HeldItem=_ITEM, Player=_PLAYER, TradeResult=_TRADE_RESULT)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "bazaar",
            "version": __version__,
            "description": "Trade engine for an online fantasy game. Every change is an event.",
        },
        "paths": _complete(
            {
                "/players": {
                    "post": {
                        "summary": "Create a player (class drawn by weight when absent or random)",
                        "parameters": [_IDEMPOTENCY],
                        "security": _BEARER,
                        "requestBody": {"content": _json("PlayerIn")},
                        "responses": {
                            "201": {"description": "created", "content": _json("Player")},
                            **_errors(403, 422),
                        },
                    }
                },
                "/players/{player_id}": {
                    "get": {
                        "summary": "A player's current state",
                        "parameters": [_id_param("player_id")],
                        "security": _BEARER,
                        "responses": {
                            "200": {"description": "the player", "content": _json("Player")},
                            **_errors(403, 404),
                        },
                    }
                },
                "/trades": {
                    "post": {
                        "summary": "Execute a two-sided trade atomically",
                        "parameters": [_IDEMPOTENCY],
                        "security": _BEARER,
                        "requestBody": {"required": True, "content": _json("TradeIn")},
                        "responses": {
                            "200": {"description": "accepted", "content": _json("TradeResult")},
                            "409": {
                                "description": "rejected by a game rule (recorded)",
                                "content": _json("TradeResult"),
                            },
                            **_errors(403, 404, 422),
                        },
                    }
                },
                "/trades/{trade_id}": {
                    "get": {
                        "summary": "A recorded trade, accepted or rejected",
                        "description": "Trades older than the server's --trade-retention come"
                        " from the lake when the server has one (marked source: lake),"
                        " else 410.",
                        "parameters": [_id_param("trade_id")],
                        "security": _BEARER,
                        "responses": {
                            "200": {"description": "the trade"},
                            **_errors(403, 404, 410),
                        },
                    }
                },
                "/catalog": {
                    "get": {
                        "summary": "Items and player classes",
                        "responses": {"200": {"description": "the catalog"}},
                    }
                },
                "/health": {
                    "get": {
                        "summary": "Liveness and store reachability",
                        "responses": {"200": {"description": "ok"}},
                    }
                },
                **_offer_paths(),
            }
        ),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A server API key, or a player token (acts for its player"
                    " only). Required on writes when the server has keys configured.",
                }
            },
        },
    }
