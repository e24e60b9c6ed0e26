"""The one table that maps errors to HTTP status codes, and the JSON error body."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bazaar.domain.errors import (
    Archived,
    BazaarError,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    OfferNotOpen,
    RateLimited,
    StoreUnavailable,
    Unauthenticated,
    UnknownOffer,
    UnknownPlayer,
    UnknownTrade,
)

STATUS_BY_ERROR: dict[type[BazaarError], int] = {
    InvalidRequest: 422,
    IdempotencyKeyReused: 422,
    NotFound: 404,
    UnknownPlayer: 404,
    UnknownTrade: 404,
    UnknownOffer: 404,
    Archived: 410,
    Unauthenticated: 401,  # + WWW-Authenticate
    Forbidden: 403,
    OfferNotOpen: 409,
    RateLimited: 429,  # + Retry-After
    StoreUnavailable: 503,
}
REJECTED_TRADE_STATUS = 409


class BodyTooLarge(InvalidRequest):
    reason = "body_too_large"


class UnsupportedMediaType(InvalidRequest):
    """A body that does not say Content-Type: application/json (api/body.py)."""

    reason = "unsupported_media_type"


class DuplicateKey(InvalidRequest):
    """A JSON object naming one key twice (api/body.py): stays 422."""

    reason = "duplicate_key"


STATUS_BY_ERROR[BodyTooLarge] = 413
STATUS_BY_ERROR[UnsupportedMediaType] = 415


def status_for(error: BazaarError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


def error_body(error: BazaarError) -> dict[str, Any]:
    body: dict[str, Any] = {"reason": error.reason, "detail": error.detail}
    field = getattr(error, "field", None)
    if field is not None:
        body["field"] = field
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
