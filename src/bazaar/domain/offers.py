"""Trade offers: one player proposes a trade, the other accepts, declines, counters or lets
it expire.

An offer is a `TradeRequest` waiting for its second signature: `player_1` is the creator
(what they give), `player_2` the addressee (what they give in return). Creating an offer
holds the creator's gives in escrow (`PlayerState.held_*`) in the same atomic step, so
they cannot be traded, offered again or consumed meanwhile; accepting runs
`trading.execute_trade` against both players' states at that moment (the creator's side
from escrow, the addressee's side checked then), and every other ending releases the hold.

    open ──accept──► accepted   (the trade executed; the held goods moved)
      │  └─accept──► failed     (the addressee's side broke a rule; released)
      ├──decline───► declined   (addressee; released)
      ├──counter───► countered  (addressee made a new offer back; released)
      ├──cancel────► cancelled  (creator; released)
      └──(expiry)──► expired    (the sweeper at expires_at, or a touch after; released)

Every arrow is exactly one offer event; accepted and failed also carry the trade's own
`trade_accepted` / `trade_rejected` event, written in the same atomic step, so the lake and
the detectors see every executed trade whichever door it came through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bazaar.domain.catalog import Catalog
from bazaar.domain.clock import format_instant, parse_instant
from bazaar.domain.errors import Forbidden, InvalidRequest, OfferNotOpen
from bazaar.domain.events import OFFER_ACCEPTED as OFFER_ACCEPTED
from bazaar.domain.events import OFFER_CANCELLED as OFFER_CANCELLED
from bazaar.domain.events import OFFER_COUNTERED as OFFER_COUNTERED
from bazaar.domain.events import OFFER_CREATED as OFFER_CREATED
from bazaar.domain.events import OFFER_DECLINED as OFFER_DECLINED
from bazaar.domain.events import OFFER_EVENT_TYPES as OFFER_EVENT_TYPES
from bazaar.domain.events import OFFER_EXPIRED as OFFER_EXPIRED
from bazaar.domain.events import OFFER_FAILED as OFFER_FAILED
from bazaar.domain.events import Event
from bazaar.domain.model import PlayerState, TradeRequest, TradeSide, goods_document
from bazaar.domain.trading import Accepted, TradeOutcome, normalise

DEFAULT_OFFER_TTL_SECONDS = 600
MAX_OFFER_TTL_SECONDS = 7 * 24 * 3600
# The OFFER_* event types are owned by events.py (the contract lists every type there);
# imported above as `X as X` so modules that name them through this one still can.


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
    COUNTERED = "countered"


class OfferAction(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"
    CANCEL = "cancel"
    COUNTER = "counter"


_EVENT_FOR = {
    OfferStatus.OPEN: OFFER_CREATED,
    OfferStatus.ACCEPTED: OFFER_ACCEPTED,
    OfferStatus.DECLINED: OFFER_DECLINED,
    OfferStatus.CANCELLED: OFFER_CANCELLED,
    OfferStatus.EXPIRED: OFFER_EXPIRED,
    OfferStatus.FAILED: OFFER_FAILED,
    OfferStatus.COUNTERED: OFFER_COUNTERED,
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks: a player (acting through their token) or the server (`player_id` None),
    which may act for anyone."""

    player_id: int | None = None

    @property
    def is_server(self) -> bool:
        return self.player_id is None


SERVER = Actor()


@dataclass(frozen=True, slots=True)
class Offer:
    offer_id: int
    request: TradeRequest  # player_1: the creator, player_2: the addressee
    status: OfferStatus
    created_at: str
    expires_at: str
    resolved_at: str | None = None
    actor_player_id: int | None = None  # who resolved it (None: the server, or expiry)
    trade_id: int | None = None  # accepted or failed
    reason: str | None = None  # failed: the trade's rejection reason
    detail: str | None = None
    # True when creating it put the creator's gives in escrow (every offer since escrow;
    # an offer stored before it holds nothing, and its ending releases nothing).
    held: bool = False
    counter_of: int | None = None  # the offer this one answers
    countered_by: int | None = None  # the offer that answered this one

    @property
    def from_player_id(self) -> int:
        return self.request.player_1.player_id

    @property
    def to_player_id(self) -> int:
        return self.request.player_2.player_id

    def is_due(self, now: str) -> bool:
        """Open, but past its expiry at `now` (instants compare as text: fixed width)."""
        return self.status is OfferStatus.OPEN and now >= self.expires_at

    def seen_at(self, now: str) -> Offer:
        """The offer as any reader must see it at `now`: an open offer past its expiry is
        expired, whether or not a transition has recorded that yet."""
        if self.is_due(now):  # resolved_at stays None until a touch records the expiry
            return replace(self, status=OfferStatus.EXPIRED)
        return self

    def to_document(self) -> dict[str, Any]:
        return {
            "offer_id": self.offer_id,
            "status": self.status.value,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "resolved_at": self.resolved_at,
            "actor_player_id": self.actor_player_id,
            "trade_id": self.trade_id,
            "reason": self.reason,
            "detail": self.detail,
            "request": self.request.to_document(),
            "held": self.held,
            "counter_of": self.counter_of,
            "countered_by": self.countered_by,
        }

    @staticmethod
    def from_document(doc: Mapping[str, Any]) -> Offer:
        def opt_int(name: str) -> int | None:
            value = doc.get(name)
            return None if value is None else int(value)

        def opt_str(name: str) -> str | None:
            value = doc.get(name)
            return None if value is None else str(value)

        return Offer(
            offer_id=int(doc["offer_id"]),
            request=TradeRequest.from_document(doc["request"]),
            status=OfferStatus(doc["status"]),
            created_at=str(doc["created_at"]),
            expires_at=str(doc["expires_at"]),
            resolved_at=opt_str("resolved_at"),
            actor_player_id=opt_int("actor_player_id"),
            trade_id=opt_int("trade_id"),
            reason=opt_str("reason"),
            detail=opt_str("detail"),
            held=bool(doc.get("held", False)),
            counter_of=opt_int("counter_of"),
            countered_by=opt_int("countered_by"),
        )

    @property
    def holds_goods(self) -> bool:
        """Open with its creator's gives in escrow: its ending must release or move them."""
        return self.held and self.status is OfferStatus.OPEN


def check_new_offer(catalog: Catalog, request: TradeRequest, ttl_seconds: int) -> TradeRequest:
    """The request normalised, or InvalidRequest for an offer that could never execute.

    Holdings are checked by the store when it places the hold (`check_escrow`), inside
    its atomic step; the addressee's side is checked when they accept.
    """
    if not 1 <= ttl_seconds <= MAX_OFFER_TTL_SECONDS:
        raise InvalidRequest(
            f"expires_in must be 1 to {MAX_OFFER_TTL_SECONDS} seconds", field="expires_in"
        )
    request = normalise(request)
    one, two = request.player_1, request.player_2
    if one.player_id == two.player_id:
        raise InvalidRequest(
            f"player {one.player_id} cannot make an offer to itself",
            field="to_player_id",
            reason="self_trade",
        )
    if one.gives_nothing and two.gives_nothing:
        raise InvalidRequest("neither side gives anything", field="gives", reason="empty_trade")
    for label, side in (("gives", one), ("wants", two)):
        for line in side.items:
            if catalog.item(line.item_id) is None:
                raise InvalidRequest(
                    f"{label}: item_id {line.item_id} is not in the catalog",
                    field=label,
                    reason="unknown_item",
                )
    return request


def expiry_of(created_at: str, ttl_seconds: int) -> str:
    return format_instant(parse_instant(created_at) + timedelta(seconds=ttl_seconds))


def open_offer(
    offer_id: int,
    request: TradeRequest,
    created_at: str,
    ttl_seconds: int,
    counter_of: int | None = None,
) -> Offer:
    return Offer(
        offer_id=offer_id,
        request=request,
        status=OfferStatus.OPEN,
        created_at=created_at,
        expires_at=expiry_of(created_at, ttl_seconds),
        held=True,
        counter_of=counter_of,
    )


def check_escrow(creator: PlayerState, side: TradeSide) -> None:
    """GoodsUnavailable unless the creator's free goods (not held by another open offer)
    cover what `side` gives; the same checks, in the same order, as a trade's."""
    creator.check_free(side.items, side.gold, "gives")


def hold(state: PlayerState, side: TradeSide, sign: int = 1) -> PlayerState:
    """`state` with `side`'s goods put in escrow (sign 1) or released from it (sign -1)."""
    held = dict(state.held_items)
    for line in side.items:
        left = held.get(line.item_id, 0) + sign * line.quantity
        if left:
            held[line.item_id] = left
        else:
            held.pop(line.item_id, None)
    return replace(state, held_gold=state.held_gold + sign * side.gold, held_items=held)


def check_cursor(cursor: str) -> None:
    """A history cursor is an event instant the store issued (fixed-width UTC text)."""
    try:
        parse_instant(cursor)
    except ValueError:
        raise InvalidRequest("cursor is not one this server issued", field="cursor") from None
    if len(cursor) != 27 or not cursor.endswith("Z"):
        raise InvalidRequest("cursor is not one this server issued", field="cursor")


def check_actor(offer: Offer, action: OfferAction, actor: Actor) -> None:
    """Forbidden unless `actor` may take `action` on `offer` (checked before its status,
    so a stranger learns nothing about an offer's state by poking at it)."""
    if actor.is_server:
        return
    if action is OfferAction.CANCEL:  # decline, accept and counter: the addressee
        if actor.player_id != offer.from_player_id:
            raise Forbidden(f"only player {offer.from_player_id} may cancel offer {offer.offer_id}")
    elif actor.player_id != offer.to_player_id:
        raise Forbidden(f"only player {offer.to_player_id} may {action} offer {offer.offer_id}")


def check_open(offer: Offer) -> None:
    if offer.status is not OfferStatus.OPEN:
        raise OfferNotOpen(offer.offer_id, offer.status.value)


def expired(offer: Offer, at: str) -> Offer:
    """The transition a touch after expiry records, by no one. `at` is the recording
    step's instant, not `expires_at`: event instants must increase in commit order."""
    return replace(offer, status=OfferStatus.EXPIRED, resolved_at=at, actor_player_id=None)


def countered(offer: Offer, actor: Actor, at: str, by: int) -> Offer:
    """The original after its addressee answered it with offer `by`."""
    return replace(
        offer,
        status=OfferStatus.COUNTERED,
        resolved_at=at,
        actor_player_id=actor.player_id,
        countered_by=by,
    )


def counter_request(offer: Offer, gives: TradeSide, wants: TradeSide) -> TradeRequest:
    """The counter-offer's request: from the addressee (`gives`) to the creator (`wants`)."""
    if gives.player_id != offer.to_player_id or wants.player_id != offer.from_player_id:
        raise InvalidRequest("a counter-offer goes from the addressee back to the creator")
    return TradeRequest(gives, wants)


def resolved(offer: Offer, action: OfferAction, actor: Actor, at: str) -> Offer:
    """A decline or a cancel (accept goes through `settled`, which needs the trade)."""
    status = OfferStatus.DECLINED if action is OfferAction.DECLINE else OfferStatus.CANCELLED
    return replace(offer, status=status, resolved_at=at, actor_player_id=actor.player_id)


def settled(offer: Offer, actor: Actor, outcome: TradeOutcome, at: str) -> Offer:
    """The offer after its trade ran: accepted, or failed with the rule that failed.
    `at` comes after the trade's own instant (its event is written first)."""
    if isinstance(outcome, Accepted):
        return replace(
            offer,
            status=OfferStatus.ACCEPTED,
            resolved_at=at,
            actor_player_id=actor.player_id,
            trade_id=outcome.trade_id,
        )
    return replace(
        offer,
        status=OfferStatus.FAILED,
        resolved_at=at,
        actor_player_id=actor.player_id,
        trade_id=outcome.trade_id,
        reason=outcome.reason.value,
        detail=outcome.detail,
    )


# -- events ------------------------------------------------------------------------------


def _side(catalog: Catalog, side: TradeSide) -> dict[str, Any]:
    lines = []
    for line in side.items:
        item = catalog.item(line.item_id)
        value = item.value if item is not None else None
        lines.append({"item_id": line.item_id, "quantity": line.quantity, "value": value})
    return {"player_id": side.player_id, "gold": side.gold, "items": lines}


def offer_event(catalog: Catalog, offer: Offer, *, event_id: str) -> Event:
    """The event recording that `offer` reached its current status.

    Keyed (like trades) by player_1, the creator, so every event of one offer and the
    trade it produced land in one partition, in order.
    """
    payload: dict[str, Any] = {
        "offer_id": offer.offer_id,
        "status": offer.status.value,
        "player_1": _side(catalog, offer.request.player_1),
        "player_2": _side(catalog, offer.request.player_2),
        "created_at": offer.created_at,
        "expires_at": offer.expires_at,
    }
    if offer.status is not OfferStatus.OPEN:
        payload["actor_player_id"] = offer.actor_player_id
    if offer.trade_id is not None:
        payload["trade_id"] = offer.trade_id
    if offer.status is OfferStatus.FAILED:
        payload["reason"] = offer.reason
        payload["detail"] = offer.detail
    escrow = offer.request.player_1.goods() if offer.held else goods_document(0, {})
    if offer.status is OfferStatus.OPEN:
        payload["held"] = escrow
        if offer.counter_of is not None:
            payload["counter_of"] = offer.counter_of
    elif offer.status is OfferStatus.ACCEPTED:  # the held goods moved with the trade
        payload["moved"] = escrow
    else:
        payload["released"] = escrow
    if offer.status is OfferStatus.COUNTERED:
        payload["countered_by"] = offer.countered_by
    occurred_at = offer.created_at if offer.resolved_at is None else offer.resolved_at
    return Event(
        event_id=event_id,
        event_type=_EVENT_FOR[offer.status],
        occurred_at=occurred_at,
        payload=payload,
    )
