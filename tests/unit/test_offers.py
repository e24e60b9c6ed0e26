"""The offer state machine and its events, pure: who may do what, when, and what it records."""

from __future__ import annotations

import pytest

from bazaar.domain.catalog import Catalog
from bazaar.domain.errors import Forbidden, InvalidRequest, OfferNotOpen
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide
from bazaar.domain.offers import (
    OFFER_ACCEPTED,
    OFFER_CANCELLED,
    OFFER_CREATED,
    OFFER_DECLINED,
    OFFER_EXPIRED,
    OFFER_FAILED,
    SERVER,
    Actor,
    Offer,
    OfferAction,
    OfferStatus,
    check_actor,
    check_cursor,
    check_new_offer,
    check_open,
    expired,
    offer_event,
    open_offer,
    resolved,
    settled,
)
from bazaar.domain.trading import Accepted, Rejected, execute_trade

CREATED = "2026-01-01T12:00:00.000000Z"
CREATOR, ADDRESSEE, STRANGER = 1, 2, 3


def _request(gives: int = 3, wants_gold: int = 20) -> TradeRequest:
    return TradeRequest(
        TradeSide(CREATOR, (ItemLine(5, gives),)), TradeSide(ADDRESSEE, (), wants_gold)
    )


def _offer(ttl: int = 600) -> Offer:
    return open_offer(7, _request(), CREATED, ttl)


def _state(pid: int, gold: int, items: dict[int, int]) -> PlayerState:
    return PlayerState(pid, f"p{pid}", "farmer", gold, items, 999, 1, CREATED)


def test_expiry_is_created_at_plus_ttl_and_reads_as_expired_after_it() -> None:
    offer = _offer(ttl=90)
    assert offer.expires_at == "2026-01-01T12:01:30.000000Z"
    assert offer.seen_at("2026-01-01T12:01:29.999999Z").status is OfferStatus.OPEN
    seen = offer.seen_at("2026-01-01T12:01:30.000000Z")
    assert seen.status is OfferStatus.EXPIRED and seen.resolved_at is None
    assert offer.is_due("2026-01-01T12:01:30.000000Z")


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (OfferAction.ACCEPT, {ADDRESSEE}),
        (OfferAction.DECLINE, {ADDRESSEE}),
        (OfferAction.CANCEL, {CREATOR}),
    ],
)
def test_only_the_right_player_or_server_may_act(action: OfferAction, allowed: set[int]) -> None:
    offer = _offer()
    check_actor(offer, action, SERVER)
    for pid in (CREATOR, ADDRESSEE, STRANGER):
        if pid in allowed:
            check_actor(offer, action, Actor(pid))
        else:
            with pytest.raises(Forbidden):
                check_actor(offer, action, Actor(pid))


def test_only_open_offers_move() -> None:
    check_open(_offer())
    for status in set(OfferStatus) - {OfferStatus.OPEN}:
        closed = Offer(7, _request(), status, CREATED, CREATED)
        with pytest.raises(OfferNotOpen) as refused:
            check_open(closed)
        assert refused.value.status == status.value


def test_accept_settles_as_accepted_or_failed_with_the_rule(catalog: Catalog) -> None:
    offer = _offer()
    creator, addressee = _state(CREATOR, 0, {5: 10}), _state(ADDRESSEE, 100, {})
    at = "2026-01-01T12:00:01.000000Z"
    ok = execute_trade(catalog, offer.request, creator, addressee, trade_id=4, executed_at=at)
    assert isinstance(ok, Accepted)
    done = settled(offer, Actor(ADDRESSEE), ok, "2026-01-01T12:00:01.000001Z")
    assert (done.status, done.trade_id, done.actor_player_id) == (OfferStatus.ACCEPTED, 4, 2)
    assert done.resolved_at == "2026-01-01T12:00:01.000001Z"

    gone = _state(CREATOR, 0, {5: 1})  # the items were traded away meanwhile
    bad = execute_trade(catalog, offer.request, gone, addressee, trade_id=5, executed_at=at)
    assert isinstance(bad, Rejected)
    failed = settled(offer, SERVER, bad, at)
    assert failed.status is OfferStatus.FAILED and failed.reason == "insufficient_items"
    assert failed.trade_id == 5 and failed.actor_player_id is None


def test_decline_cancel_and_expiry_record_who_and_when() -> None:
    offer = _offer()
    at = "2026-01-01T12:00:05.000000Z"
    assert resolved(offer, OfferAction.DECLINE, Actor(ADDRESSEE), at).status is OfferStatus.DECLINED
    cancelled = resolved(offer, OfferAction.CANCEL, Actor(CREATOR), at)
    assert cancelled.status is OfferStatus.CANCELLED and cancelled.actor_player_id == CREATOR
    late = "2026-01-01T13:00:00.000000Z"
    gone = expired(offer, late)
    assert gone.status is OfferStatus.EXPIRED and gone.resolved_at == late


def test_each_status_has_its_own_event_keyed_by_the_creator(catalog: Catalog) -> None:
    offer = _offer()
    at = "2026-01-01T12:00:05.000000Z"
    creator, addressee = _state(CREATOR, 0, {5: 10}), _state(ADDRESSEE, 100, {})
    ok = execute_trade(catalog, offer.request, creator, addressee, trade_id=4, executed_at=at)
    bad = execute_trade(catalog, offer.request, addressee, creator, trade_id=5, executed_at=at)
    cases = [
        (offer, OFFER_CREATED),
        (settled(offer, Actor(ADDRESSEE), ok, at), OFFER_ACCEPTED),
        (settled(offer, Actor(ADDRESSEE), bad, at), OFFER_FAILED),
        (resolved(offer, OfferAction.DECLINE, Actor(ADDRESSEE), at), OFFER_DECLINED),
        (resolved(offer, OfferAction.CANCEL, Actor(CREATOR), at), OFFER_CANCELLED),
        (expired(offer, at), OFFER_EXPIRED),
    ]
    for state, event_type in cases:
        event = offer_event(catalog, state, event_id="e")
        assert event.event_type == event_type
        assert event.key == str(CREATOR)
        assert event.payload["offer_id"] == 7
        assert event.payload["player_1"]["items"] == [{"item_id": 5, "quantity": 3, "value": 6}]
        assert event.occurred_at == (CREATED if state is offer else at)
    failed = offer_event(catalog, cases[2][0], event_id="e").payload
    assert failed["reason"] == "insufficient_items" and failed["trade_id"] == 5


def test_new_offers_are_checked_for_shape_not_holdings(catalog: Catalog) -> None:
    merged = check_new_offer(
        catalog,
        TradeRequest(TradeSide(1, (ItemLine(5, 1), ItemLine(5, 2))), TradeSide(2, gold=99_999)),
        60,
    )
    assert merged.player_1.items == (ItemLine(5, 3),)
    bad = {
        "self_trade": (TradeRequest(TradeSide(1, gold=1), TradeSide(1)), 60),
        "empty_trade": (TradeRequest(TradeSide(1), TradeSide(2)), 60),
        "unknown_item": (TradeRequest(TradeSide(1, (ItemLine(999, 1),)), TradeSide(2)), 60),
        "invalid_request": (_request(), 0),
    }
    for reason, (request, ttl) in bad.items():
        with pytest.raises(InvalidRequest) as refused:
            check_new_offer(catalog, request, ttl)
        assert refused.value.reason == reason


def test_documents_round_trip() -> None:
    offer = resolved(_offer(), OfferAction.CANCEL, Actor(CREATOR), "2026-01-01T12:00:05.000000Z")
    assert Offer.from_document(offer.to_document()) == offer


@pytest.mark.parametrize("cursor", ["", "yesterday", "2026-01-01", "2026-01-01T12:00:00+00:00"])
def test_history_cursors_must_be_instants_the_store_issued(cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        check_cursor(cursor)
    check_cursor(CREATED)
