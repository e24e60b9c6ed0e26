"""Market prices: what each item sells for as the market sets it (`bazaar ask prices`).

An item's price is the median gold per unit over its item-for-gold trades in a trailing
window (`price_window_seconds`, 7 days by default) up to the last trade at or before `--at`;
with fewer than `price_min_sales` of them the catalog value stands in as the prior. The
detectors value every item line at these prices, so an item the market prizes above its
catalog value (or below) is judged as players actually trade it. SQL: queries/market_prices.sql.
"""

from __future__ import annotations

from collections.abc import Sequence

from bazaar.analytics.engines import Engine
from bazaar.analytics.questions import AskOptions, Json, run_query
from bazaar.analytics.sql import PriceList


def market_prices(engine: Engine, options: AskOptions) -> list[dict[str, Json]]:
    t = options.thresholds
    return run_query(
        engine,
        "market_prices",
        options.params(window_us=t.price_window_seconds * 1_000_000, min_trades=t.price_min_sales),
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
