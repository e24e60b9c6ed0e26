"""Carrying out a batch of planned orders straight on a Store (the in-process drivers).

Plain trades keep going to `Store.execute_trades` in runs (group commit); an economy
action between them is its own store call, in plan order, through the store's ports: a
grant or consumption (`Economy.adjust`), an offer from creation to its end
(`OfferBook.create_offer` / `counter_offer` / `act_on_offer`, acting as the server).
"""

from __future__ import annotations

from dataclasses import replace

from bazaar.domain.errors import BazaarError, GoodsUnavailable
from bazaar.domain.grants import Adjustment, AdjustmentKind
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.offers import SERVER, OfferAction
from bazaar.domain.trading import Accepted, TradeOutcome
from bazaar.simulate.economy_moves import (
    ADJUSTING,
    COUNTER_ACCEPT,
    COUNTER_DECLINE,
    GRANT,
    OFFER_ACCEPT,
    OFFER_TTL_SECONDS,
)
from bazaar.simulate.plan import TradeRequests
from bazaar.simulate.reconcile import Order, Result
from bazaar.store.base import Store


def run_orders(store: Store, request: TradeRequests, ids: list[int],
               orders: list[Order]) -> list[Result]:  # fmt: skip
    """What the store did with each order, in order."""
    results: list[Result] = []
    run: list[Order] = []

    def flush() -> None:
        if run:
            calls = [(request(*order[:6]), None) for order in run]
            results.extend(store.execute_trades(calls))
            run.clear()

    for order in orders:
        if not order[7]:
            run.append(order)
            continue
        flush()
        try:
            results.append(_act(store, request, ids, order))
        except GoodsUnavailable as exc:
            results.append(exc.reason)
        except BazaarError as exc:
            results.append(exc)
    flush()
    return results


def _act(store: Store, request: TradeRequests, ids: list[int], order: Order) -> Result:
    one, two, lines_1, gold_1, lines_2, gold_2, _, action, extra, reason = order
    if action in ADJUSTING:
        kind = AdjustmentKind.GRANT if action == GRANT else AdjustmentKind.CONSUMPTION
        items = tuple(ItemLine(i, q) for i, q in lines_1)
        return store.adjust(Adjustment(kind, ids[one], items, gold_1, reason)).player
    deal = request(one, two, lines_1, gold_1, lines_2, gold_2)
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
