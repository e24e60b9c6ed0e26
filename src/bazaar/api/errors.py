"""The one table that maps each error to its HTTP answer: status, reason and headers.

Every class of the tree drawn in domain/errors.py that can reach a client has a row; a
subclass without one answers as its nearest ancestor that has. The reason is the error's
own (`BazaarError.reason`, or an InvalidRequest's given reason); the row adds the status
and, for the few that need one, the headers built from the error (a 401's challenge, a
429's or 503's Retry-After). Answers the protocol refuses below the app (408, 431, 503
too_many_connections) are written in api/http.py, before any handler runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from bazaar.domain.errors import (
    Archived,
    BazaarError,
    Forbidden,
    GoodsUnavailable,
    InvalidRequest,
    NotFound,
    OfferNotOpen,
    RateLimited,
    StoreUnavailable,
    Unauthenticated,
)

REJECTED_TRADE_STATUS = 409  # a trade a game rule refused: a recorded outcome, not an error


class BodyTooLarge(InvalidRequest):
    """A request body over the API's limit (api/body.py)."""

    reason = "body_too_large"


class UnsupportedMediaType(InvalidRequest):
    """A body that does not say Content-Type: application/json (api/body.py)."""

    reason = "unsupported_media_type"


class DuplicateKey(InvalidRequest):
    """A JSON object naming one key twice (api/body.py): stays 422."""

    reason = "duplicate_key"


Headers = Callable[[Any], dict[str, str]]


def _no_headers(error: BazaarError) -> dict[str, str]:
    return {}


def _challenge(error: Unauthenticated) -> dict[str, str]:
    # RFC 6750: `error="invalid_token"` only when a credential was sent and refused.
    challenge = 'Bearer realm="bazaar"'
    if error.invalid_token:
        challenge += ', error="invalid_token"'
    return {"WWW-Authenticate": challenge}


def _retry_after(error: RateLimited | StoreUnavailable) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)}


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    headers: Headers = _no_headers


HTTP_ANSWERS: Mapping[type[BazaarError], HttpAnswer] = MappingProxyType(
    {
        InvalidRequest: HttpAnswer(422),  # IdempotencyKeyReused, DuplicateKey too
        BodyTooLarge: HttpAnswer(413),
        UnsupportedMediaType: HttpAnswer(415),
        NotFound: HttpAnswer(404),  # UnknownPlayer, UnknownTrade, UnknownOffer
        Archived: HttpAnswer(410),  # ArchivedTrade, ArchivedOffer
        Unauthenticated: HttpAnswer(401, _challenge),
        Forbidden: HttpAnswer(403),
        OfferNotOpen: HttpAnswer(409),
        GoodsUnavailable: HttpAnswer(409),
        RateLimited: HttpAnswer(429, _retry_after),
        StoreUnavailable: HttpAnswer(503, _retry_after),
    }
)
_UNEXPECTED = HttpAnswer(500)


def http_answer(error: BazaarError) -> HttpAnswer:
    """The row of the error's class or of its nearest ancestor; 500 for an error no
    client should meet (a lake or broker failure inside a request is a bug to log)."""
    for cls in type(error).__mro__:
        answer = HTTP_ANSWERS.get(cls)
        if answer is not None:
            return answer
    return _UNEXPECTED


def status_for(error: BazaarError) -> int:
    return http_answer(error).status


def error_body(error: BazaarError) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": error.reason, "detail": error.detail}
    if isinstance(error, InvalidRequest) and error.field is not None:
        body["field"] = error.field
    return body


def from_validation_error(exc: ValidationError) -> tuple[dict[str, Any], int]:
    errors = []
    for err in exc.errors(include_url=False, include_context=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"])
        errors.append({"field": field or "body", "type": err["type"], "message": err["msg"]})
    first = errors[0] if errors else {"field": "body", "type": "invalid", "message": "invalid"}
    reason = "malformed_json" if first["type"] == "json_invalid" else "invalid_request"
    if first["type"] == "model_type" and first["field"] == "body":
        reason = "invalid_request"
    return (
        {
            "reason": reason,
            "detail": f"{first['field']}: {first['message']}",
            "field": first["field"],
            "errors": errors,
        },
        422,
    )
