"""The offer book port: offers, player tokens and player history (docs: domain/offers.py),
what the API's offer, auth and history routes need from a store.

Defaults refuse, so a store without offers still serves trades; both adapters here
implement them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bazaar.domain.model import TradeRequest
from bazaar.domain.offers import Actor, Offer, OfferAction, OfferStatus
from bazaar.domain.trading import TradeOutcome


@dataclass(frozen=True, slots=True)
class OfferResult:
    """An offer after a transition, and the trade it ran (accept only)."""

    offer: Offer
    trade: TradeOutcome | None = None


@dataclass(frozen=True, slots=True)
class CounterResult:
    """A countered offer and the counter-offer that replaced it."""

    original: Offer
    counter: Offer


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: str  # "trade" | "offer"
    at: str  # the trade's executed_at, the offer's created_at: unique per store
    trade: TradeOutcome | None = None
    offer: Offer | None = None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None  # pass as `before` for the next (older) page; None at the end
    # True on the last page when older entries have left the store (trade retention): the
    # lake holds them.
    archived: bool = False


class OfferBook:
    """Offers and their history, and the tokens players prove themselves with."""

    def create_offer(self, request: TradeRequest, ttl_seconds: int) -> Offer:
        """One step: the creator's gives put in escrow, the offer (open) and its
        offer_created event. Raises UnknownPlayer, or GoodsUnavailable when the gives are
        not free (held by another open offer, or not there) with nothing written."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def counter_offer(
        self, offer_id: int, request: TradeRequest, ttl_seconds: int, actor: Actor
    ) -> CounterResult:
        """One step: the open offer `offer_id` countered (its holds released,
        offer_countered) and `request` (from its addressee back to its creator) created
        with its own holds (offer_created with counter_of). Raises UnknownOffer, Forbidden
        (not the addressee), OfferNotOpen (recording a due expiry first, as
        act_on_offer), GoodsUnavailable."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def expire_due_offers(self, limit: int = 500) -> int:
        """Record up to `limit` open offers past their expiry as expired (holds released,
        offer_expired each), oldest deadline first; how many. The serve process's expiry
        sweeper calls it about once a second."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def get_offer(self, offer_id: int) -> Offer:
        """As stored (callers apply `Offer.seen_at`). Raises UnknownOffer."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def list_offers(
        self, player_id: int, status: OfferStatus | None = None, limit: int = 100
    ) -> list[Offer]:
        """Offers made by or to `player_id`, newest first, as stored."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def act_on_offer(self, offer_id: int, action: OfferAction, actor: Actor) -> OfferResult:
        """One atomic step: check the actor and the status, then decline, cancel, or accept
        (run the trade on the states at this instant), writing the offer, the trade and
        their events together. An open offer past its expiry is recorded as expired (with
        its event) and then refused with OfferNotOpen. Raises UnknownOffer, Forbidden,
        OfferNotOpen."""
        raise NotImplementedError(f"{type(self).__name__} does not support offers")

    def add_player_token(self, player_id: int, token_hash: str) -> None:
        """Remember a player's token by its hash (never the token). Raises UnknownPlayer."""
        raise NotImplementedError(f"{type(self).__name__} does not support player tokens")

    def player_for_token(self, token_hash: str) -> int | None:
        raise NotImplementedError(f"{type(self).__name__} does not support player tokens")

    def revoke_player_tokens(self, player_id: int) -> int:
        """Forget every token of the player (how many there were); every later lookup of
        one answers None, from any process. Raises UnknownPlayer."""
        raise NotImplementedError(f"{type(self).__name__} does not support player tokens")

    def player_history(
        self, player_id: int, limit: int = 50, before: str | None = None
    ) -> HistoryPage:
        """The player's trades and offers, newest first, older than the cursor `before`.
        Raises UnknownPlayer; InvalidRequest for a cursor this store never issued."""
        raise NotImplementedError(f"{type(self).__name__} does not support history")
