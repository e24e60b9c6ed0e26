"""Market prices: what each item sells for as the market sets it (`bazaar ask prices`).

An item's price is the median gold per unit over its item-for-gold trades in a trailing
window (`price_window_seconds`, a day by default) up to the last trade at or before `--at`;
with fewer than `price_min_sales` of them the catalog value stands in as the prior. The
detectors value every item line at these prices, so an item the market prizes above its
catalog value (or below) is judged as players actually trade it. SQL: queries/market_prices.sql.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from bazaar.analytics.asking import AskOptions, Json, run_query
from bazaar.analytics.engines import Engine
from bazaar.analytics.sql import PriceList
from bazaar.domain.clock import parse_instant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def market_prices(engine: Engine, options: AskOptions) -> list[dict[str, Json]]:
    t = options.thresholds
    last = run_query(engine, "last_trade", options.params())[0]["last"]
    # The window's start as a literal, not a join: both engines then prune files and row
    # groups by it (most of a big lake lies outside a day's window).
    since = EPOCH
    if last is not None:
        since = max(EPOCH, parse_instant(last) - timedelta(seconds=t.price_window_seconds))
    return run_query(
        engine, "market_prices", options.params(since=since, min_trades=t.price_min_sales)
    )


def price_list(prices: Sequence[dict[str, Json]]) -> PriceList:
    return PriceList(tuple((int(p["item_id"]), float(p["price"])) for p in prices))


def spread(prices: Sequence[dict[str, Json]]) -> float:
    """The largest factor between an item's market price and its catalog value (>= 1); an
    item with no catalog value, or sold for nothing, has no bound (infinity)."""
    widest = 1.0
    for p in prices:
        market, catalog = float(p["price"]), float(p["catalog_value"])
        if market <= 0 or catalog <= 0:
            if market != catalog:
                return float("inf")
            continue
        widest = max(widest, market / catalog, catalog / market)
    return widest
