"""One exception tree for everything bazaar refuses to do.

    BazaarError
     ├── InvalidRequest            malformed client input              -> 422
     │    └── IdempotencyKeyReused same key, different body            -> 422
     ├── NotFound                                                      -> 404
     │    ├── UnknownPlayer
     │    ├── UnknownTrade
     │    └── UnknownOffer
     ├── Archived                  existed, past the store's retention -> 410
     │    ├── ArchivedTrade
     │    └── ArchivedOffer
     ├── Unauthenticated           no or invalid credential on a write -> 401
     ├── Forbidden                 valid credential, not its to act on -> 403
     ├── OfferNotOpen              offer already accepted, declined, …  -> 409
     ├── RateLimited               a credential's request budget spent -> 429
     ├── CatalogError              a catalog file that cannot be used
     ├── StoreUnavailable          the backing store cannot be reached -> 503
     └── OutboxReleased            a reader asked for entries already released

A trade that breaks a game rule is NOT an exception: it is a recorded outcome
(`trading.Rejected`) because the rejection itself is an event the analytics needs.
Adapters translate third-party errors into this tree (`raise StoreUnavailable(...) from exc`).
"""

from __future__ import annotations


class BazaarError(Exception):
    """Base of every error bazaar raises on purpose."""

    reason: str = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(BazaarError):
    """Client input that does not describe a valid request."""

    reason = "invalid_request"

    def __init__(self, detail: str, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(detail)
        self.field = field
        if reason is not None:
            self.reason = reason


class IdempotencyKeyReused(InvalidRequest):
    """An Idempotency-Key already used for a request with a different body."""

    reason = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used with a different request body",
            field="Idempotency-Key",
        )


class NotFound(BazaarError):
    reason = "not_found"


class UnknownPlayer(NotFound):
    reason = "unknown_player"

    def __init__(self, player_id: int) -> None:
        super().__init__(f"no player with player_id {player_id}")
        self.player_id = player_id


class UnknownTrade(NotFound):
    reason = "unknown_trade"

    def __init__(self, trade_id: int) -> None:
        super().__init__(f"no trade with trade_id {trade_id}")
        self.trade_id = trade_id


class Archived(BazaarError):
    """A record that existed but has left the store after its retention (HTTP 410): the
    lake keeps it."""

    reason = "archived"


class ArchivedTrade(Archived):
    def __init__(self, trade_id: int) -> None:
        super().__init__(
            f"trade {trade_id} is older than the store's trade retention and has been"
            " archived; the lake holds it (serve with --lake to answer from it)"
        )
        self.trade_id = trade_id


class ArchivedOffer(Archived):
    def __init__(self, offer_id: int) -> None:
        super().__init__(
            f"offer {offer_id} was resolved longer ago than the store's retention and has"
            " been archived; the lake's offers table holds its history"
        )
        self.offer_id = offer_id


class CatalogError(BazaarError):
    reason = "invalid_catalog"


class StoreUnavailable(BazaarError):
    """The store could not be reached; nothing was written, the client may retry."""

    reason = "store_unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class UnknownOffer(NotFound):
    reason = "unknown_offer"

    def __init__(self, offer_id: int) -> None:
        super().__init__(f"no offer with offer_id {offer_id}")
        self.offer_id = offer_id


class Unauthenticated(BazaarError):
    """A write without a credential, or with one the server does not know."""

    reason = "unauthenticated"

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        super().__init__(detail)
        # RFC 6750: `error="invalid_token"` only when a credential was sent and refused.
        challenge = 'Bearer realm="bazaar"'
        if invalid_token:
            challenge += ', error="invalid_token"'
        self.www_authenticate = challenge


class Forbidden(BazaarError):
    """A valid credential acting on something it does not own."""

    reason = "forbidden"


class OfferNotOpen(BazaarError):
    """The offer was already accepted, declined, cancelled, failed or has expired."""

    reason = "offer_not_open"

    def __init__(self, offer_id: int, status: str) -> None:
        super().__init__(f"offer {offer_id} is {status}, not open")
        self.offer_id = offer_id
        self.status = status


class RateLimited(BazaarError):
    """A credential spent its request budget; the client may retry after `retry_after` s."""

    reason = "rate_limited"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class OutboxReleased(BazaarError):
    """A consumer asked for outbox entries that were released (every registered consumer
    had passed them): a consumer that was dropped, or a lake started afresh after its
    predecessor's entries left the store. Reading on would skip events, so nothing is read."""

    reason = "outbox_released"

    def __init__(self, after: int, released: int) -> None:
        super().__init__(
            f"outbox entries {after + 1}..{released} were already released; a consumer"
            f" resuming at {after} would skip them. Take them from the lake or the Kafka"
            " topic, or register the consumer before the server releases (docs/OPERATIONS.md)"
        )
        self.after = after
        self.released = released
