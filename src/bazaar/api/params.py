"""The one parser for every integer a client puts in a path or a query string.

Only ASCII digits count: `str.isdigit()` and `int()` also accept other scripts' digits
(`"٣"`, `"３"`, `"²"`), which either answered another player's data or raised past the
error table. A path id that does not parse is an id nothing has (404, as an unknown id);
a query value that does not parse is malformed input (422).
"""

from __future__ import annotations

from starlette.requests import Request

from bazaar.api.schemas import MAX_ID
from bazaar.domain.errors import InvalidRequest, NotFound

_MAX_DIGITS = len(str(MAX_ID))
_ASCII_DIGITS = frozenset("0123456789")

# What a bad path id answers, by parameter: the same reason as an id nothing has.
_UNKNOWN = {"player_id": "unknown_player", "trade_id": "unknown_trade", "offer_id": "unknown_offer"}


def ascii_int(raw: str, low: int, high: int) -> int | None:
    """`raw` as an integer in [low, high] when it is 1+ ASCII digits, else None."""
    if not raw or len(raw) > _MAX_DIGITS or not _ASCII_DIGITS.issuperset(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def path_id(request: Request, name: str) -> int:
    raw: str = request.path_params[name]
    value = ascii_int(raw, 1, MAX_ID)
    if value is None:
        error = NotFound(f"no {name.removesuffix('_id')} with {name} {raw[:40]!r}")
        error.reason = _UNKNOWN.get(name, "not_found")
        raise error
    return value


def query_int(request: Request, name: str, default: int | None, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise InvalidRequest(f"query parameter {name} is required", field=name)
        return default
    value = ascii_int(raw, low, high)
    if value is None:
        raise InvalidRequest(
            f"{name} must be an integer from {low} to {high} (ASCII digits)", field=name
        )
    return value
