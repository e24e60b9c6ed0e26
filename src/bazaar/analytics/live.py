"""The live dashboard's figures, from one snapshot of the lake (DuckDB).

`LiveEconomy.figures()` answers what /dashboard/data sends: counts, the current trade rate,
money supply now and over time, rejections by reason, top items, prices per item, Gini,
and the latest exploit findings. A snapshot costs tens of milliseconds on a demo-sized lake,
so figures are kept for `max_age` seconds and shared by every viewer; the exploit detectors
(the heaviest part) are re-run at most every `exploits_every` seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bazaar.analytics.asking import AskOptions, Json, rows
from bazaar.analytics.engines import DuckDBEngine
from bazaar.analytics.questions import wealth_gini
from bazaar.analytics.sql import string_literal
from bazaar.domain.catalog import Catalog

RATE_WINDOW_SECONDS = 10  # trades/s is measured over this much of the recent past
SERIES_BUCKETS = 30

_COUNTS = """
SELECT (SELECT count(*) FROM trades) AS trades_accepted,
       (SELECT count(*) FROM rejected_trades) AS trades_rejected,
       (SELECT count(*) FROM players) AS players,
       (SELECT count(*) FROM trades WHERE executed_at > {since}) AS recent_trades
"""
_SUPPLY = """
SELECT coalesce(sum(gold), 0) AS gold, coalesce(sum(items_value), 0) AS items_value
FROM (SELECT max_by(gold, version) AS gold, max_by(items_value, version) AS items_value
      FROM player_states GROUP BY player_id)
"""
_REJECTIONS = "SELECT reason, count(*) AS trades FROM rejected_trades GROUP BY 1 ORDER BY 2 DESC"
_RATE_SERIES = """
SELECT date_trunc('second', executed_at) AS second, count(*) AS trades
FROM trades WHERE executed_at > {since} GROUP BY 1 ORDER BY 1
"""
_TOP_ITEMS = """
SELECT l.item_id, coalesce(i.name, 'item ' || l.item_id) AS name,
       count(DISTINCT l.trade_id) AS trades, sum(l.quantity) AS quantity
FROM trade_items l LEFT JOIN items i ON i.item_id = l.item_id
GROUP BY 1, 2 ORDER BY trades DESC, l.item_id LIMIT 8
"""
# An item's price: gold paid per unit in trades of one item line against gold only.
_PRICES = """
WITH sales AS (
  SELECT l.item_id, l.executed_at,
         CASE WHEN l.receiver_id = t.player_1_id THEN t.player_1_gold ELSE t.player_2_gold END
           AS paid,
         CASE WHEN l.giver_id = t.player_1_id THEN t.player_1_gold ELSE t.player_2_gold END
           AS giver_gold,
         l.quantity
  FROM trade_items l JOIN trades t ON t.trade_id = l.trade_id
  WHERE t.item_lines = 1
)
SELECT s.item_id, coalesce(i.name, 'item ' || s.item_id) AS name, i.value AS catalog_value,
       count(*) AS sales, round(sum(paid) / sum(quantity), 2) AS mean_price,
       round(arg_max(paid / quantity, executed_at), 2) AS last_price
FROM sales s LEFT JOIN items i ON i.item_id = s.item_id
WHERE paid > 0 AND giver_gold = 0
GROUP BY 1, 2, 3 ORDER BY sales DESC, s.item_id
"""


def _timestamp(at: datetime) -> str:
    return f"TIMESTAMPTZ {string_literal(at.isoformat())}"


def snapshot(lake: str | Path, catalog: Catalog, *, with_exploits: bool) -> dict[str, Json]:
    now = datetime.now(UTC)
    engine = DuckDBEngine(lake, catalog)
    try:
        since = _timestamp(now - timedelta(seconds=RATE_WINDOW_SECONDS))
        minute_ago = _timestamp(now - timedelta(seconds=60))
        counts = rows(engine.query(_COUNTS.format(since=since)))[0]
        supply = rows(engine.query(_SUPPLY))[0]
        figures: dict[str, Json] = {
            "at": now.isoformat().replace("+00:00", "Z"),
            "trades_accepted": counts["trades_accepted"],
            "trades_rejected": counts["trades_rejected"],
            "players": counts["players"],
            "trades_per_second": round(counts["recent_trades"] / RATE_WINDOW_SECONDS, 1),
            "money_supply": supply["gold"],
            "item_value": supply["items_value"],
            "rejections": rows(engine.query(_REJECTIONS)),
            "rate_series": rows(engine.query(_RATE_SERIES.format(since=minute_ago))),
            "top_items": rows(engine.query(_TOP_ITEMS)),
            "prices": rows(engine.query(_PRICES)),
            "supply_series": wealth_gini(engine, AskOptions(buckets=SERIES_BUCKETS)),
            "lake": engine.snapshot.to_json(),  # the event position every figure is as of
        }
        series = figures["supply_series"]
        figures["gini_gold"] = round(series[-1]["gini_gold"], 4) if series else 0.0
        figures["gini_items"] = round(series[-1]["gini_items"], 4) if series else 0.0
        if with_exploits:
            from bazaar.analytics.exploits import find_exploits

            figures["exploits"] = find_exploits(engine, AskOptions())
        return figures
    finally:
        engine.close()


def findings(exploits: Json) -> list[dict[str, Json]]:
    """Every detector's suspects as rows (detector, player, evidence), whatever columns the
    detectors give: the dashboard shows them as they come."""
    found = []
    for detector, answer in (exploits or {}).items():
        for suspect in answer.get("suspects", []) if isinstance(answer, dict) else []:
            found.append({"detector": detector, **suspect})
    return found


class LiveEconomy:
    """Figures shared by every dashboard viewer, refreshed when older than `max_age`."""

    def __init__(
        self,
        lake: str | Path,
        catalog: Catalog,
        *,
        max_age: float = 1.0,
        exploits_every: float = 5.0,
    ) -> None:
        self.lake = lake
        self.catalog = catalog
        self.max_age = max_age
        self.exploits_every = exploits_every
        self._lock = threading.Lock()
        self._figures: dict[str, Any] | None = None
        self._taken = 0.0
        self._exploits: Json = {}
        self._exploits_taken = float("-inf")

    def figures(self) -> dict[str, Any]:
        with self._lock:  # one snapshot at a time; viewers arriving meanwhile share it
            now = time.monotonic()
            if self._figures is not None and now - self._taken < self.max_age:
                return self._figures
            with_exploits = now - self._exploits_taken >= self.exploits_every
            figures = snapshot(self.lake, self.catalog, with_exploits=with_exploits)
            if with_exploits:
                self._exploits = figures.pop("exploits")
                self._exploits_taken = now
            figures["findings"] = findings(self._exploits)
            self._figures, self._taken = figures, time.monotonic()
            return figures
