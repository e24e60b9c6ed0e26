"""The analyst's report: one self-contained HTML file with every question, the economy over
time, the exploit detectors' evidence and a page (an anchored section) per suspect and per
top player. Charts are drawn by plotly.js, inlined once (charts.py): the file loads nothing
from another host and opens offline. Time series use buckets fitted to the run's length
(timebuckets.py); the series come from economy.py, the answers from questions.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from bazaar.analytics.asking import Json
from bazaar.analytics.charts import ChartBook, axis, bars, layout, line, step, time_axis
from bazaar.analytics.html_tables import fmt, suspect_rows, table
from bazaar.analytics.questions import QUESTIONS
from bazaar.analytics.report_offers import offer_funnel_section
from bazaar.analytics.report_players import player_pages
from bazaar.analytics.timebuckets import TimeBuckets, instant

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #dde;padding:.25rem .5rem}
th{background:#f1f3f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde;border-radius:6px;
padding:.6rem 1rem;min-width:220px}.card b{display:block;font-size:1.3rem}
.ok{color:#1a7f37}.bad{color:#b42318}.muted{color:#667}.chart{min-height:340px}
nav a{margin-right:.8rem}section.player{border-top:1px dashed #ccd;margin-top:1.5rem}
"""


def _card(title: str, body: Mapping[str, Json] | None) -> str:
    if body is None:
        return f'<div class="card">{escape(title)}<b>no data</b></div>'
    lines = "".join(f"<div>{escape(k)}: {escape(fmt(v))}</div>" for k, v in body.items())
    return f'<div class="card">{escape(title)}{lines}</div>'


def _exploits(found: Mapping[str, Any], pages: Mapping[int, Any], api: str | None) -> str:
    from bazaar.analytics.evidence import suspects_html
    from bazaar.analytics.exploits import BEHAVIOUR_DETECTORS

    parts = []
    for name, detector in found.items():
        if not isinstance(detector, Mapping) or "suspects" not in detector:
            continue  # e.g. against_truth: scores, not a detector
        criteria = ", ".join(f"{k}={v}" for k, v in (detector.get("criteria") or {}).items())
        suspects = detector.get("suspects") or []
        verdict = (
            f'<span class="bad">{len(suspects)} suspect(s)</span>'
            if suspects
            else '<span class="ok">no suspects</span>'
        )
        parts.append(f"<h3>{escape(name)} — {verdict}</h3><p class=muted>{escape(criteria)}</p>")
        if suspects and name in BEHAVIOUR_DETECTORS:
            parts.append(suspects_html(name, detector, api, pages))  # evidence.py: every trade
        elif suspects:
            parts.append(table(suspect_rows(suspects), pages=pages))
        for key, value in detector.items():  # any further tables (conservation's items)
            if key != "suspects" and isinstance(value, list) and value:
                parts.append(f"<p class=muted>{escape(key)}</p>{table(value)}")
    return "".join(parts)


def _series_by(
    found: Sequence[Mapping[str, Json]], key: str, value: str
) -> dict[str, tuple[list[str], list[Json]]]:
    series: dict[str, tuple[list[str], list[Json]]] = {}
    for row in found:
        xs, ys = series.setdefault(str(row[key]), ([], []))
        xs.append(instant(row["bucket_us"]))
        ys.append(row[value])
    return series


def _activity(book: ChartBook, eco: Mapping[str, Any], tb: TimeBuckets) -> str:
    activity, rejections = eco["activity"], eco["rejections"]
    x = [instant(r["bucket_us"]) for r in activity]
    traces = [bars("accepted", x, [r["trades"] for r in activity])]
    for reason, (rx, ry) in _series_by(rejections, "reason", "trades").items():
        traces.append(bars(f"rejected: {reason}", rx, ry))
    every = tb.label
    html = [
        f"<h2 id=activity>Trading activity</h2><p class=muted>{tb.count} buckets of {every} "
        f"from {instant(tb.first_us)} to {instant(tb.last_us)} UTC.</p>",
        book.chart("trades_over_time", traces, layout(
            f"Trades per {every}", time_axis(tb), axis(f"trades per {every}"),
            barmode="stack")),
        book.chart("value_moved", [
            bars("gold", x, [r["gold_moved"] for r in activity]),
            bars("items (catalog value)", x, [r["items_value_moved"] for r in activity]),
        ], layout(f"Value changing hands per {every}", time_axis(tb),
                  axis(f"gold pieces per {every}"), barmode="group")),
        "<h2 id=rejections>Rejections by reason over time</h2>",
    ]  # fmt: skip
    totals: dict[str, int] = {}
    for row in rejections:
        totals[row["reason"]] = totals.get(row["reason"], 0) + row["trades"]
    reasons = [
        bars(r, rx, ry) for r, (rx, ry) in _series_by(rejections, "reason", "trades").items()
    ]
    html.append(book.chart("rejections_over_time", reasons, layout(
        f"Rejected trades per {every}, by reason", time_axis(tb),
        axis(f"rejected trades per {every}"), barmode="stack")))  # fmt: skip
    html.append(table([{"reason": k, "trades": v} for k, v in sorted(totals.items())]))
    return "".join(html)


def _supply(book: ChartBook, eco: Mapping[str, Any], tb: TimeBuckets) -> str:
    gold = items = 0
    x, golds, values = [], [], []
    for row in eco["supply"]:  # running sum of changes: the supply at each bucket's end
        gold += row["gold_change"]
        items += row["items_value_change"]
        x.append(instant(row["bucket_us"] + tb.width_us))
        golds.append(gold)
        values.append(items)
    flows = eco["flows"]
    per_flow = _series_by(flows, "flow", "gold")
    per_flow_items = _series_by(flows, "flow", "items_value")
    totals: dict[tuple[str, str], dict[str, Json]] = {}
    for row in flows:
        t = totals.setdefault((row["flow"], row["direction"]), {
            "flow": row["flow"], "direction": row["direction"], "events": 0, "gold": 0,
            "items_value": 0})  # fmt: skip
        for k in ("events", "gold", "items_value"):
            t[k] += row[k]
    return "".join([
        "<h2 id=supply>Money supply and item value over time</h2>",
        book.chart("money_supply", [
            step("gold held by all players", x, golds),
            step("catalog value of all items held", x, values, yaxis="y2"),
        ], layout("Money supply (gold) and item value", time_axis(tb),
                  axis("gold pieces", rangemode="tozero"),
                  yaxis2=axis("item value (gold pieces)", overlaying="y", side="right",
                              rangemode="tozero"))),
        "<h2 id=flows>Faucets and sinks</h2><p class=muted>What adds supply to the game "
        "(faucets) and what takes it out (sinks), as logged events: player creation and "
        "grants (by reason) add, consumptions (by reason) and trade fees remove. Trades "
        "move value between players and change no total.</p>",
        book.chart("faucets_gold", [bars(f, fx, fy) for f, (fx, fy) in per_flow.items()],
                   layout(f"Gold added (+) or removed (-) per {tb.label}", time_axis(tb),
                          axis(f"gold pieces per {tb.label}"), barmode="relative")),
        book.chart("faucets_items", [bars(f, fx, fy) for f, (fx, fy) in per_flow_items.items()],
                   layout(f"Item value added (+) or removed (-) per {tb.label}",
                          time_axis(tb), axis(f"catalog value per {tb.label} (gold)"),
                          barmode="relative")),
        table(list(totals.values())),
    ])  # fmt: skip


def _prices(book: ChartBook, eco: Mapping[str, Any], tb: TimeBuckets, top: int = 8) -> str:
    per_item: dict[int, dict[str, Json]] = {}
    for row in eco["prices"]:
        item = per_item.setdefault(row["item_id"], {
            "item_id": row["item_id"], "name": row["name"], "catalog_value": row["catalog_value"],
            "sales": 0, "units": 0, "gold_paid": 0})  # fmt: skip
        for k in ("sales", "units", "gold_paid"):
            item[k] += row[k]
    summary = sorted(per_item.values(), key=lambda i: (-i["sales"], i["item_id"]))
    for item in summary:
        item["mean_price"] = item["gold_paid"] / item["units"] if item["units"] else None
    shown = {i["item_id"] for i in summary[:top]}
    traces = []
    for item in summary[:top]:
        rows = [r for r in eco["prices"] if r["item_id"] == item["item_id"]]
        traces.append(line(str(item["name"]), [instant(r["bucket_us"]) for r in rows],
                           [round(r["mean_price"], 2) for r in rows]))  # fmt: skip
    return "".join([
        "<h2 id=prices>Prices per item over time</h2><p class=muted>Gold paid per unit in "
        f"trades of one item line against gold only; the {len(shown)} most sold items.</p>",
        book.chart("prices", traces, layout(
            f"Mean price per unit, per {tb.label}", time_axis(tb),
            axis("gold pieces per unit"))),
        table(summary, ["item_id", "name", "catalog_value", "sales", "units", "mean_price"]),
    ])  # fmt: skip


def _classes(book: ChartBook, eco: Mapping[str, Any]) -> str:
    classes = eco["classes"]
    names = [c["player_class"] for c in classes]
    return "".join([
        "<h2 id=classes>Breakdown by player class</h2>",
        book.chart("class_wealth", [
            bars("gold", names, [c["gold"] for c in classes]),
            bars("items (catalog value)", names, [c["items_value"] for c in classes]),
        ], layout("What each class holds now", axis("player class"),
                  axis("gold pieces (total held)"), barmode="stack", hovermode="closest")),
        book.chart("class_trades", [bars("trade sides", names,
                                         [c["trade_sides"] for c in classes])],
                   layout("Trades each class took part in", axis("player class"),
                          axis("trades (one per side)"), hovermode="closest")),
        table(classes),
    ])  # fmt: skip


def _answers(
    book: ChartBook, answers: Mapping[str, Json], pages: Mapping[int, Any], api: str | None
) -> str:
    html = []
    if "item_velocity" in answers:
        items = answers["item_velocity"]
        html.append(f"<h2 id=velocity>{QUESTIONS['item_velocity'].title}</h2>")
        html.append(
            book.chart(
                "item_velocity",
                [
                    bars(
                        "velocity",
                        [i["velocity"] or 0 for i in items],
                        [i["name"] for i in items],
                        orientation="h",
                    )
                ],
                layout(
                    "Item velocity",
                    axis("units moved per unit in existence"),
                    axis("item", autorange="reversed"),
                    hovermode="closest",
                ),
            )
        )
        html.append(table(items))  # fmt: skip
    if "wealth_gini" in answers:
        gini = answers["wealth_gini"]
        x = [g["moment"][:19].replace("T", " ") for g in gini]
        html.append(f"<h2 id=gini>{QUESTIONS['wealth_gini'].title}</h2>")
        html.append(
            book.chart(
                "wealth_gini",
                [
                    line("gold", x, [g["gini_gold"] for g in gini]),
                    line("items", x, [g["gini_items"] for g in gini]),
                ],
                layout(
                    "Gini coefficient over time",
                    time_axis(),
                    axis("Gini (0 = all equal, 1 = one player holds all)", range=[0, 1]),
                ),
            )
        )
        html.append(table(gini))  # fmt: skip
    if "trades_per_hour" in answers:
        html.append(f"<h2>{QUESTIONS['trades_per_hour'].title}</h2>")
        html.append(f"<details><summary>table</summary>{table(answers['trades_per_hour'])}"
                    "</details>")  # fmt: skip
    if "top_traders" in answers:
        html.append(f"<h2 id=traders>{QUESTIONS['top_traders'].title}</h2>")
        html.append(table(answers["top_traders"], pages=pages))
    if "trade_graph" in answers:
        html.append(f"<h2>{QUESTIONS['trade_graph'].title}</h2>")
        html.append(table([answers["trade_graph"]]))
    if "exploits" in answers:
        html.append(f"<h2 id=exploits>{QUESTIONS['exploits'].title}</h2>")
        html.append(_exploits(answers["exploits"], pages, api))
    return "".join(html)


_NAV = (("activity", "activity"), ("rejections", "rejections"), ("supply", "money supply"),
        ("flows", "faucets and sinks"), ("offers", "offer funnel"), ("prices", "prices"),
        ("classes", "classes"), ("velocity", "velocity"), ("gini", "inequality"),
        ("traders", "traders"), ("exploits", "exploits"), ("players", "players"))  # fmt: skip


def render_report(
    answers: Mapping[str, Json],
    *,
    lake: str,
    engine: str,
    at: str | None,
    economy: Mapping[str, Any] | None = None,
    api: str | None = None,
    position: str | None = None,
    warning: str | None = None,
) -> str:
    """`api`: the trade API's URL, to link each suspect's evidence trades to GET /trades/{id};
    `position`: the lake's watermark as a sentence; `warning`: tables that differed."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    moment = f"as of {at}" if at else "over everything the lake holds"
    where = f"; {position}" if position else ""
    eco = economy or {"buckets": None}
    tb = eco["buckets"]
    pages: Mapping[int, Any] = eco.get("players") or {}
    book = ChartBook()
    html = [
        f"<!doctype html><html><head><meta charset=utf-8><title>bazaar report</title>"
        f"<style>{_CSS}</style></head><body><h1 id=top>bazaar: economy and behaviour report</h1>",
        f'<p class="muted">Lake {escape(lake)}, {escape(moment)}{escape(where)}; '
        f"engine {escape(engine)}; made {made}.</p>",
        f"<p><strong>Warning:</strong> {escape(warning)}</p>" if warning else "",
        "<nav>" + "".join(f"<a href='#{a}'>{escape(t)}</a>" for a, t in _NAV) + "</nav>",
        "<h2>The business questions</h2><div class=cards>",
    ]
    for qid in ("q1", "q2", "q3", "q4"):
        if qid in answers:
            html.append(_card(f"{qid}: {QUESTIONS[qid].title}", answers[qid]))
    html.append("</div>")
    if tb is not None:
        html += [_activity(book, eco, tb), _supply(book, eco, tb),
                 offer_funnel_section(book, eco.get("offer_funnel")), _prices(book, eco, tb),
                 _classes(book, eco)]  # fmt: skip
    else:
        html.append('<p class="muted">The lake holds no events yet: no series to chart.</p>')
    html.append(_answers(book, answers, pages, api))
    if tb is not None:
        html.append(player_pages(book, eco, tb))
    html.append(book.scripts())
    html.append("</body></html>")
    return "\n".join(html)
