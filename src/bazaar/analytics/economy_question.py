"""`bazaar ask economy`: the economy's faucets and sinks over time, the money supply and its
inflation, and the offer funnel.

- flows: per flow (player creation, `grant: <reason>`, `consumption: <reason>`, trade fee),
  its direction, events, gold and item value in or out (sinks negative) over the run;
- money_supply: gold created with players, granted, consumed and burned in fees, the supply
  now, and inflation = the supply's growth beyond what creation brought, in %, with the
  supply at the end of each time bucket (the running sum of the flows);
- offer_funnel: offers made, and how many were accepted, declined, countered, expired,
  cancelled or failed, and how many are still open;
- escrow: what open offers hold now (gold, item units, the items' catalog value, and their
  sum), how many offers hold it, and the same at the end of each time bucket (from the
  lake's `holds` table: held +, released and moved -).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bazaar.analytics.asking import AskOptions, Json, run_query
from bazaar.analytics.engines import Engine
from bazaar.analytics.timebuckets import fit_buckets
from bazaar.domain.clock import EPOCH, format_instant

OFFER_ENDINGS = ("accepted", "declined", "countered", "expired", "cancelled", "failed")


def economy(engine: Engine, options: AskOptions) -> Json:
    bounds = run_query(engine, "report_bounds", options.params())[0]
    if bounds["first_us"] is None:
        return {"flows": [], "money_supply": None, "offer_funnel": None, "escrow": None}
    buckets = fit_buckets(int(bounds["first_us"]), int(bounds["last_us"]))
    flows = run_query(engine, "report_flows", options.params(bucket_us=buckets.width_us))
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    per_bucket: dict[int, int] = {}
    for row in flows:
        key = (str(row["flow"]), str(row["direction"]))
        total = totals.setdefault(
            key, {"flow": key[0], "direction": key[1], "events": 0, "gold": 0, "items_value": 0}
        )
        for column in ("events", "gold", "items_value"):
            total[column] += int(row[column] or 0)
        bucket = int(row["bucket_us"])
        per_bucket[bucket] = per_bucket.get(bucket, 0) + int(row["gold"] or 0)
    created = sum(t["gold"] for (flow, _), t in totals.items() if flow == "player creation")
    granted = sum(t["gold"] for (f, _), t in totals.items() if f.startswith("grant: "))
    consumed = -sum(t["gold"] for (f, _), t in totals.items() if f.startswith("consumption: "))
    fees = -sum(t["gold"] for (f, _), t in totals.items() if f == "trade fee")
    supply = created + granted - consumed - fees
    series, running = [], 0
    for bucket in sorted(per_bucket):
        running += per_bucket[bucket]
        series.append({"until": bucket_end(bucket, buckets.width_us), "gold_supply": running})
    return {
        "flows": sorted(totals.values(), key=lambda t: (t["direction"], -abs(t["gold"]))),
        "money_supply": {
            "created": created,
            "granted": granted,
            "consumed": consumed,
            "fees": fees,
            "supply": supply,
            "inflation_pct": round(100 * (supply - created) / created, 2) if created else None,
            "over_time": series,
        },
        "offer_funnel": offer_funnel(engine, options),
        "escrow": _escrow(engine, options, buckets.width_us),
    }


def bucket_end(bucket_us: int, width_us: int) -> str:
    """The instant a time bucket ends (its series point's `until`)."""
    return format_instant(EPOCH + timedelta(microseconds=bucket_us + width_us))


def offer_funnel(engine: Engine, options: AskOptions) -> dict[str, int]:
    """Offers created, how many reached each ending, and how many are still open (the
    report's offer funnel section shows the same)."""
    row = run_query(engine, "offer_funnel", options.params())[0]
    funnel = {name: int(row[name] or 0) for name in ("created", *OFFER_ENDINGS)}
    funnel["open"] = funnel["created"] - sum(funnel[name] for name in OFFER_ENDINGS)
    return funnel


def _escrow(engine: Engine, options: AskOptions, width_us: int) -> dict[str, Any]:
    """Escrow now and at the end of each bucket with a change (the running sums)."""
    changes = run_query(engine, "escrow", options.params(bucket_us=width_us))
    gold = units = value = 0
    series = []
    for row in changes:
        gold += int(row["gold"] or 0)
        units += int(row["item_units"] or 0)
        value += int(row["items_value"] or 0)
        until = bucket_end(int(row["bucket_us"]), width_us)
        series.append({"until": until, "gold": gold, "items_value": value, "value": gold + value})
    holding = int(changes[-1]["offers_holding"] or 0) if changes else 0
    return {
        "gold": gold,
        "item_units": units,
        "items_value": value,
        "value": gold + value,
        "offers_holding": holding,
        "over_time": series,
    }
