"""One exception tree for everything bazaar refuses to do, whole.

    BazaarError
     ├── InvalidRequest            malformed client input              -> 422
     │    ├── IdempotencyKeyReused same key, different body            -> 422
     │    ├── DuplicateKey         a JSON key sent twice (api/errors)  -> 422
     │    ├── BodyTooLarge         over the body limit (api/errors)    -> 413
     │    └── UnsupportedMediaType not application/json (api/errors)   -> 415
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
     ├── GoodsUnavailable          a hold, grant or consumption breaks a
     │                             holdings or capacity rule            -> 409
     ├── RateLimited               a credential's request budget spent -> 429
     ├── StoreUnavailable          the backing store cannot be reached -> 503
     ├── CatalogError              a catalog file that cannot be used
     ├── OutboxReleased            a reader asked for entries already released
     ├── MalformedEvent            bytes that are not an event envelope
     ├── BrokerUnavailable         Kafka cannot be reached or refused a request
     ├── LakeUnavailable           the lake's storage cannot be read or written
     │    └── LakeFenced           another writer keeps taking the positions
     ├── SparkUnavailable          pyspark or Java missing, or no session
     └── AnalyticsError            a question that cannot be answered

The right-hand column is the API's (api/errors.py holds the one table of status, reason
and headers); errors without a status never reach an HTTP answer. The three HTTP-envelope
errors live in api/errors.py, the HTTP adapter that alone raises them. Answers refused
below the app (408 slow head or body, 431 oversized head, 503 worker at its connection
limit) are written by the protocol in api/http.py and are not exceptions.

A trade that breaks a game rule is NOT an exception: it is a recorded outcome
(`trading.Rejected`) because the rejection itself is an event the analytics needs.
Adapters translate third-party errors into this tree (`raise StoreUnavailable(...) from exc`).
Outside it on purpose: `simulate`'s SimulationError and StoreWorkerFailed (a run of the
load generator that failed, never a refusal of bazaar's) and `lake.tables.InvalidEvent`
(a ValueError the lake's decoders raise row by row).
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
        # True when a credential was sent and refused (not merely missing): the API's
        # challenge then says error="invalid_token" (RFC 6750).
        self.invalid_token = invalid_token


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


class GoodsUnavailable(BazaarError):
    """An offer's escrow, a grant or a consumption that a game rule refuses: the goods are
    not there (or held by open offers), or they would not fit. Nothing was written. The
    reason is the trade rule's own: insufficient_items, insufficient_gold,
    capacity_exceeded."""

    reason = "goods_unavailable"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


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


class MalformedEvent(BazaarError, ValueError):
    """Bytes that are not an event envelope."""

    reason = "malformed_event"


class BrokerUnavailable(BazaarError):
    """The Kafka cluster cannot be reached, the topic does not exist, or it refused a
    request (the relay's producer, the lake's consumer and Spark's offset reader alike)."""

    reason = "broker_unavailable"


class LakeUnavailable(BazaarError):
    """The lake's storage cannot be read or written."""

    reason = "lake_unavailable"


class LakeFenced(LakeUnavailable):
    """Another writer keeps committing the positions this one is trying to write."""

    reason = "lake_fenced"


class SparkUnavailable(BazaarError):
    """pyspark or a Java runtime is missing, or the session could not start."""

    reason = "spark_unavailable"


class AnalyticsError(BazaarError):
    """A question cannot be answered: unknown question, bad parameter, unreadable lake."""

    reason = "analytics_error"
