"""Event documents for codec, contract and lake tests: one real event of every type, built by
the domain as the stores build them, and copies with a few fields changed (valid and broken
variants)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from bazaar.domain import offers
from bazaar.domain.catalog import Catalog
from bazaar.domain.events import Event, player_created, trade_event
from bazaar.domain.grants import (
    Adjusted,
    Adjustment,
    AdjustmentKind,
    adjustment_event,
    apply_adjustment,
)
from bazaar.domain.model import ItemLine, PlayerState, TradeRequest, TradeSide, starting_state
from bazaar.domain.offers import SERVER, Actor, OfferAction, offer_event
from bazaar.domain.trading import Accepted, Rejected, execute_trade

CREATED = "2026-11-29T10:00:00.123456Z"  # players made, offers opened
RESOLVED = "2026-11-29T10:00:05.000001Z"  # offers settled, their trades run
CREATOR, ADDRESSEE = 1, 2  # a farmer and a hunter; the farmer creates every offer


def _farmer_and_hunter(catalog: Catalog) -> tuple[PlayerState, PlayerState]:
    farmer = starting_state(catalog.classes["farmer"], CREATOR, None, CREATED)
    hunter = starting_state(catalog.classes["hunter"], ADDRESSEE, "Hunter Ana", CREATED)
    return farmer, hunter


def _fair(farmer: PlayerState) -> TradeRequest:
    """Three of the farmer's food and 5 gold for the hunter's 40 gold: accepted."""
    food = min(farmer.items)
    return TradeRequest(TradeSide(CREATOR, (ItemLine(food, 3),), 5), TradeSide(ADDRESSEE, (), 40))


def _accepted(catalog: Catalog) -> Accepted:
    farmer, hunter = _farmer_and_hunter(catalog)
    accepted = execute_trade(
        catalog, _fair(farmer), farmer, hunter, trade_id=11, executed_at=RESOLVED
    )
    assert isinstance(accepted, Accepted)
    return accepted


def trade_events(catalog: Catalog) -> dict[str, Event]:
    """player_created, trade_accepted (the trade the accepted offer below runs) and
    trade_rejected (an item the catalog does not know)."""
    farmer, hunter = _farmer_and_hunter(catalog)
    unknown_item = TradeRequest(
        TradeSide(CREATOR, (ItemLine(999_999, 1),)), TradeSide(ADDRESSEE, (), 10**9)
    )
    rejected = execute_trade(catalog, unknown_item, farmer, hunter, trade_id=2, executed_at=CREATED)
    assert isinstance(rejected, Rejected)
    return {
        "player_created": player_created(catalog, hunter, event_id=str(uuid.uuid4())),
        "trade_accepted": trade_event(catalog, _accepted(catalog), event_id=str(uuid.uuid4())),
        "trade_rejected": trade_event(catalog, rejected, event_id=str(uuid.uuid4())),
    }


def offer_events(catalog: Catalog) -> dict[str, Event]:
    """One event of each offer type: a fair offer in every outcome but failure, and a greedy
    one (more gold than the hunter holds) that fails when accepted."""
    farmer, hunter = _farmer_and_hunter(catalog)
    greedy = TradeRequest(TradeSide(CREATOR, gold=10), TradeSide(ADDRESSEE, gold=10**9))
    open_fair = offers.open_offer(7, _fair(farmer), CREATED, 600)
    open_greedy = offers.open_offer(8, greedy, CREATED, 600)
    failed = execute_trade(catalog, greedy, farmer, hunter, trade_id=12, executed_at=RESOLVED)
    states = {
        "offer_created": open_fair,
        "offer_accepted": offers.settled(open_fair, Actor(ADDRESSEE), _accepted(catalog), RESOLVED),
        "offer_declined": offers.resolved(
            open_fair, OfferAction.DECLINE, Actor(ADDRESSEE), RESOLVED
        ),
        "offer_cancelled": offers.resolved(open_fair, OfferAction.CANCEL, SERVER, RESOLVED),
        "offer_expired": offers.expired(open_fair, RESOLVED),
        "offer_failed": offers.settled(open_greedy, Actor(ADDRESSEE), failed, RESOLVED),
        "offer_countered": offers.countered(open_fair, Actor(ADDRESSEE), RESOLVED, 9),
    }
    return {
        kind: offer_event(catalog, offer, event_id=str(uuid.uuid4()))
        for kind, offer in states.items()
    }


def counter_offer_event(catalog: Catalog) -> Event:
    """The offer_created of a counter-offer: the hunter answers offer 7 with offer 9."""
    request = TradeRequest(TradeSide(ADDRESSEE, gold=30), TradeSide(CREATOR, (ItemLine(1, 2),)))
    counter = offers.open_offer(9, request, RESOLVED, 600, counter_of=7)
    return offer_event(catalog, counter, event_id=str(uuid.uuid4()))


def adjustment_events(catalog: Catalog) -> dict[str, Event]:
    """goods_granted (a quest reward to the farmer) and goods_consumed (a repair)."""
    farmer, _ = _farmer_and_hunter(catalog)
    food = min(farmer.items)
    grant = Adjustment(AdjustmentKind.GRANT, CREATOR, (ItemLine(food, 2),), 25, "quest_reward")
    repair = Adjustment(AdjustmentKind.CONSUMPTION, CREATOR, (), 10, "repair")
    granted = apply_adjustment(grant, farmer)
    repaired = apply_adjustment(repair, granted)
    return {
        "goods_granted": adjustment_event(
            catalog, Adjusted(1, RESOLVED, grant, granted), event_id=str(uuid.uuid4())
        ),
        "goods_consumed": adjustment_event(
            catalog, Adjusted(2, RESOLVED, repair, repaired), event_id=str(uuid.uuid4())
        ),
    }


def domain_events(catalog: Catalog) -> dict[str, Event]:
    """One real event of every type, keyed by its type."""
    return {**trade_events(catalog), **offer_events(catalog), **adjustment_events(catalog)}


def with_changes(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of `doc` with each change applied; `payload__player_1__gold=5` sets
    doc["payload"]["player_1"]["gold"]."""
    doc = orjson.loads(orjson.dumps(doc))
    for path, value in changes.items():
        target = doc
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return doc
