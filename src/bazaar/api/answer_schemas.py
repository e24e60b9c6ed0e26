"""The JSON answers the API gives, as pydantic models: the response schemas of
/openapi.json are generated from them (api/openapi.py), as the request schemas are from
api/schemas.py.

The handlers render plain dicts with orjson (the views in api/schemas.py and
api/offers.py), not these models: validating every answer would cost the hot path
(POST /trades) for nothing. The models are held to the views by tests instead
(tests/unit/test_answer_schemas.py), and schemathesis checks every answer of a served API
against the document (tests/integration/test_api_fuzz.py). Fields that only some answers
carry (a rejection's reason, an accepted trade's players) have a default, so the document
does not require them; extra fields are allowed, as the lake's copy of a trade adds
`source`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from bazaar.domain.offers import OfferStatus
from bazaar.domain.trading import RejectionReason

Instant = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Error(BaseModel):
    """Every refusal: a machine-readable reason and a sentence for people."""

    reason: str = Field(description="machine-readable cause")
    detail: str
    field: str | None = Field(default=None, description="the offending field, when there is one")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="every invalid field of a body, when there are several"
    )


class HeldItem(BaseModel):
    item_id: int
    name: str | None = Field(description="null for an item the catalog does not know")
    value: int | None = Field(description="catalog value; null for an unknown item")
    quantity: int


class ItemLine(BaseModel):
    item_id: int
    quantity: int


class Escrow(BaseModel):
    gold: int
    items: list[ItemLine]


class Player(BaseModel):
    player_id: int
    username: str
    player_class: str
    gold: int
    capacity: int
    version: int
    created_at: Instant
    items: list[HeldItem]
    held: Escrow | None = Field(
        default=None,
        description="escrow: the part of gold and items open offers hold (still counted"
        " above, not free to trade, offer or consume); absent in a trade's answer",
    )


class AdjustedPlayer(Player):
    """POST /players/{id}/grants or /consumptions: the player after it, and its id."""

    grant_id: int | None = Field(default=None, description="a grant's id")
    consumption_id: int | None = Field(default=None, description="a consumption's id")


class TradeResult(BaseModel):
    """The answer to POST /trades: 200 accepted (both players after it), 409 rejected."""

    trade_id: int
    status: Literal["accepted", "rejected"]
    executed_at: Instant
    player_1: Player | None = Field(default=None, description="when accepted")
    player_2: Player | None = Field(default=None, description="when accepted")
    reason: RejectionReason | None = Field(default=None, description="when rejected")
    detail: str | None = Field(default=None, description="when rejected")


class TradeSideRecord(BaseModel):
    player_id: int
    items: list[ItemLine] | None = Field(
        description="what the side gave; null for a rejected trade read back from the lake"
    )
    gold: int


class TradeRecord(BaseModel):
    """GET /trades/{id}: what each side offered, and what came of it."""

    trade_id: int
    status: Literal["accepted", "rejected"]
    executed_at: Instant
    player_1: TradeSideRecord
    player_2: TradeSideRecord
    reason: RejectionReason | None = Field(default=None, description="when rejected")
    detail: str | None = Field(default=None, description="when rejected")
    source: Literal["lake"] | None = Field(
        default=None, description="present when the store no longer holds the trade"
    )


class OfferSide(BaseModel):
    gold: int
    items: list[HeldItem]


class Offer(BaseModel):
    offer_id: int
    status: OfferStatus
    from_player_id: int
    to_player_id: int
    gives: OfferSide
    wants: OfferSide
    created_at: Instant
    expires_at: Instant
    resolved_at: Instant | None
    trade_id: int | None = Field(default=None, description="the trade an accept executed")
    reason: str | None = Field(default=None, description="why an accepted offer failed")
    detail: str | None = None
    counter_of: int | None = Field(default=None, description="the offer this one answers")
    countered_by: int | None = Field(default=None, description="the offer that answered it")


class OfferCountered(BaseModel):
    """POST /offers/{id}/counter: the counter-offer, and the original it replaced."""

    offer: Offer
    countered: Offer


class OfferList(BaseModel):
    offers: list[Offer]


class OfferActed(BaseModel):
    """An accept, decline or cancel: the offer after it, and the trade an accept ran."""

    offer: Offer
    trade: TradeRecord | None = None
    reason: RejectionReason | None = Field(default=None, description="409: the rule broken")
    detail: str | None = None


class PlayerToken(BaseModel):
    player_id: int
    token: str = Field(description="shown once: the server keeps only its hash")


class HistoryEntry(BaseModel):
    kind: Literal["trade", "offer"]
    at: Instant
    trade: TradeRecord | None = None
    offer: Offer | None = None


class HistoryPage(BaseModel):
    player_id: int
    entries: list[HistoryEntry]
    next_cursor: str | None
    archived: bool | None = Field(default=None, description="older entries are in the lake")
    archived_detail: str | None = None


ANSWERS: tuple[type[BaseModel], ...] = (
    Error, HeldItem, Player, TradeResult, TradeRecord, Offer, OfferList, OfferActed,
    PlayerToken, HistoryPage, OfferCountered, AdjustedPlayer,
)  # fmt: skip
