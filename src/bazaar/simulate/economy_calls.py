"""Carrying out a batch of planned orders straight on a Store (the in-process drivers).

Plain trades keep going to `Store.execute_trades` in batches (group commit); an economy
action among them is its own store call, through the store's ports: a
grant or consumption (`Economy.adjust`), an offer from creation to its end
(`OfferBook.create_offer` / `counter_offer` / `act_on_offer`, acting as the server).
"""

from __future__ import annotations

import time
from dataclasses import replace

from bazaar.domain.errors import BazaarError, GoodsUnavailable, StoreUnavailable
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, OfferAction
from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.simulate.economy_moves import (
    ADJUSTING,
    COUNTER_ACCEPT,
    COUNTER_DECLINE,
    EXPIRY_SECONDS,
    GRANT,
    OFFER_ACCEPT,
    OFFER_EXPIRE,
    OFFER_TTL_SECONDS,
)
from bazaar.simulate.plan import TradeRequests
from bazaar.simulate.reconcile import Order, Result
from bazaar.store.base import Store


def run_orders(store: Store, request: TradeRequests, ids: list[int],
               orders: list[Order]) -> list[Result]:  # fmt: skip
    """What the store did with each order, in order.

    Orders of different players commute, so each order goes to the earliest step after
    every earlier order of its players: even steps are one `execute_trades` batch each,
    odd steps the economy actions, one store call each in plan order. Every player's orders
    still run in plan order, and trades keep big group-commit batches around actions."""
    last: dict[int, int] = {}  # each slot's step so far
    steps: dict[int, list[int]] = {}  # step -> positions in `orders`
    for n, order in enumerate(orders):
        after = max(last.get(order[0], 0), last.get(order[1], 0))
        step = after + (after % 2 if not order[7] else 1 - after % 2)
        steps.setdefault(step, []).append(n)
        last[order[0]] = last[order[1]] = step
    results: list[Result] = [None] * len(orders)
    for step in sorted(steps):
        positions = steps[step]
        if step % 2 == 0:
            calls = [(request(*orders[n][:6]), None) for n in positions]
            for n, outcome in zip(positions, store.execute_trades(calls), strict=True):
                results[n] = outcome
            continue
        for n in positions:
            try:
                results[n] = _act(store, request, ids, orders[n])
            except GoodsUnavailable as exc:
                results[n] = exc.reason
            except StoreUnavailable:
                raise  # ends the run, as a failing trade batch does
            except BazaarError as exc:  # refused (no such player, an offer not open)
                results[n] = exc
    return results


def _act(store: Store, request: TradeRequests, ids: list[int], order: Order) -> Result:
    one, two, lines_1, gold_1, lines_2, gold_2, _, action, extra, reason = order
    if action in ADJUSTING:
        kind = AdjustmentKind.GRANT if action == GRANT else AdjustmentKind.CONSUMPTION
        items = tuple(ItemLine(i, q) for i, q in lines_1)
        return store.adjust(Adjustment(kind, ids[one], items, gold_1, reason)).player
    deal = request(one, two, lines_1, gold_1, lines_2, gold_2)
    if action == OFFER_EXPIRE:
        store.create_offer(deal, EXPIRY_SECONDS)
        return None
    if action not in (COUNTER_ACCEPT, COUNTER_DECLINE):
        offer = store.create_offer(deal, OFFER_TTL_SECONDS)
        ending = OfferAction.ACCEPT if action == OFFER_ACCEPT else OfferAction.DECLINE
        return _ended(store.act_on_offer(offer.offer_id, ending, SERVER).trade, swap=False)
    # The creator first asks `extra` gold more; the addressee counters with the deal itself.
    asked = replace(deal.player_2, gold=deal.player_2.gold + extra)
    offer = store.create_offer(TradeRequest(deal.player_1, asked), OFFER_TTL_SECONDS)
    counter = store.counter_offer(
        offer.offer_id, _reversed(deal), OFFER_TTL_SECONDS, SERVER
    ).counter
    ending = OfferAction.ACCEPT if action == COUNTER_ACCEPT else OfferAction.DECLINE
    return _ended(store.act_on_offer(counter.offer_id, ending, SERVER).trade, swap=True)


def _reversed(deal: TradeRequest) -> TradeRequest:
    return TradeRequest(
        TradeSide(deal.player_2.player_id, deal.player_2.items, deal.player_2.gold),
        TradeSide(deal.player_1.player_id, deal.player_1.items, deal.player_1.gold),
    )


def _ended(trade: TradeOutcome | None, *, swap: bool) -> Result:
    """The accepted trade with the plan's first player first; None for a decline."""
    if trade is None:
        return None
    if isinstance(trade, Accepted):
        if swap:  # a counter-offer is the addressee's: its trade names them first
            return replace(trade, player_1=trade.player_2, player_2=trade.player_1)
        return trade
    return trade.reason.value


def expire_left_offers(store: Store, expected: int, *, timeout: float = 10.0) -> int:
    """Wait for the offers left to expire and record their expiry (as the serve process's
    sweeper does); how many were recorded. The run's last order made the last of them."""
    recorded = 0
    deadline = time.monotonic() + timeout
    time.sleep(EXPIRY_SECONDS)
    while recorded < expected and time.monotonic() < deadline:
        recorded += store.expire_due_offers()
        if recorded < expected:
            time.sleep(0.1)
    return recorded
