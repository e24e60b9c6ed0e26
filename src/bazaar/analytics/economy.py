"""The report's economy series: what the report charts over time, in time buckets that fit
the run (timebuckets.py), and the players it gives a page of their own.

`economy(engine, options, answers)` runs the `report_*.sql` files on either engine and
returns plain JSON data: activity and rejections by reason per bucket, the money supply
and item value over time, faucets and sinks, the offer funnel (the query `ask economy`
runs), price history per item, the breakdown by player class, and for each chosen player
(every exploit suspect, the most active traders, the q3/q4 holders) a holdings timeline,
its items over time and its counterparties.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bazaar.analytics.asking import AskOptions, Json, run_query
from bazaar.analytics.economy_question import offer_funnel
from bazaar.analytics.engines import Engine
from bazaar.analytics.sql import Ids
from bazaar.analytics.timebuckets import fit_buckets

MAX_PLAYER_PAGES = 40  # suspects first, then top traders: a page each


def _suspects(exploits: Json) -> list[tuple[str, Mapping[str, Json]]]:
    """(detector, suspect) pairs, whatever columns the detectors give beside player_id."""
    found = []
    for name, detector in (exploits or {}).items():
        suspects = detector.get("suspects", []) if isinstance(detector, Mapping) else []
        found += [(name, s) for s in suspects if isinstance(s, Mapping) and "player_id" in s]
    return found


def chosen_players(answers: Mapping[str, Json]) -> dict[int, dict[str, Any]]:
    """Players who get a page (username, and why): suspects first, then the most active
    traders and the q3/q4 holders; at most MAX_PLAYER_PAGES."""
    chosen: dict[int, dict[str, Any]] = {}

    def choose(row: Mapping[str, Json], why: str) -> None:
        entry = chosen.setdefault(int(row["player_id"]), {"username": "", "why": []})
        entry["username"] = entry["username"] or str(row.get("username") or "")
        entry["why"].append(why)

    for name, suspect in _suspects(answers.get("exploits")):
        choose(suspect, f"suspect: {name}")
    for row in answers.get("top_traders") or []:
        choose(row, f"top trader ({row['trades']:,} trades)")
    for qid, why in (("q3", "most distinct items (q3)"), ("q4", "most valuable items (q4)")):
        holder = answers.get(qid)
        if isinstance(holder, Mapping) and holder.get("player_id") is not None:
            choose(holder, why)
    return dict(list(chosen.items())[:MAX_PLAYER_PAGES])


def _by_player(found: list[dict[str, Json]]) -> dict[int, list[dict[str, Json]]]:
    grouped: dict[int, list[dict[str, Json]]] = {}
    for row in found:
        pid = int(row.pop("player_id"))
        grouped.setdefault(pid, []).append(row)
    return grouped


def lake_span(engine: Engine) -> tuple[int, int] | None:
    """The first and last event instants the lake holds (epoch microseconds), or None."""
    bounds = run_query(engine, "report_bounds", AskOptions().params())[0]
    if bounds["first_us"] is None:
        return None
    return int(bounds["first_us"]), int(bounds["last_us"])


def economy(engine: Engine, options: AskOptions, answers: Mapping[str, Json]) -> dict[str, Any]:
    """Everything the report charts beyond the questions' answers (plain JSON data)."""
    bounds = run_query(engine, "report_bounds", options.params())[0]
    if bounds["first_us"] is None:
        return {"buckets": None}
    buckets = fit_buckets(int(bounds["first_us"]), int(bounds["last_us"]))
    params = options.params(bucket_us=buckets.width_us)
    chosen = chosen_players(answers)
    per_player = options.params(bucket_us=buckets.width_us, players=Ids(tuple(chosen)))

    def players_query(name: str) -> dict[int, list[dict[str, Json]]]:
        return _by_player(run_query(engine, name, per_player)) if chosen else {}

    return {
        "buckets": buckets,
        "activity": run_query(engine, "report_activity", params),
        "rejections": run_query(engine, "report_rejections", params),
        "supply": run_query(engine, "report_supply", params),
        "flows": run_query(engine, "report_flows", params),
        "prices": run_query(engine, "report_prices", params),
        "classes": run_query(engine, "report_classes", options.params()),
        "offer_funnel": offer_funnel(engine, options),
        "players": chosen,
        "player_states": players_query("report_player_states"),
        "player_items": players_query("report_player_items"),
        "player_partners": players_query("report_player_partners"),
    }
