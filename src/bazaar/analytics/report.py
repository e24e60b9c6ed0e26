"""The analyst's report: one self-contained HTML file (inline CSS and SVG charts, no script,
no network) with every question, insight and exploit detector."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from bazaar.analytics.questions import QUESTIONS, Json
from bazaar.analytics.render import format_value

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0}td,th{border:1px solid #dde;padding:.25rem .5rem}
th{background:#f1f3f8;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #dde;border-radius:6px;
padding:.6rem 1rem;min-width:220px}.card b{display:block;font-size:1.3rem}
.ok{color:#1a7f37}.bad{color:#b42318}svg text{font:11px system-ui,sans-serif;fill:#445}
.muted{color:#667}
"""
_PALETTE = ("#3b6fd8", "#e07b39", "#2a9d8f", "#b42318")


def _fmt(value: Json) -> str:
    return format_value(value, missing="–")


def table(found: Sequence[Mapping[str, Json]], columns: Sequence[str] | None = None) -> str:
    if not found:
        return '<p class="muted">No rows.</p>'
    columns = list(columns or found[0])
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in found:
        cells = []
        for c in columns:
            v = row.get(c)
            numeric = isinstance(v, int | float) and not isinstance(v, bool)
            cells.append(f"<td{' class=n' if numeric else ''}>{escape(_fmt(v))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def bar_chart(labels: Sequence[str], values: Sequence[float], *, width: int = 1000) -> str:
    """Vertical bars, one per label (labels thinned to stay legible)."""
    if not values:
        return '<p class="muted">No data.</p>'
    height, pad = 220, 40
    top = max(max(values), 1e-9)
    step = (width - pad) / len(values)
    every = max(1, len(values) // 12)
    parts = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (height - pad) * value / top
        x = pad + n * step
        parts.append(
            f'<rect x="{x:.1f}" y="{height - pad - h:.1f}" width="{max(step - 2, 1):.1f}" '
            f'height="{h:.1f}" fill="{_PALETTE[0]}"><title>{escape(label)}: '
            f"{escape(_fmt(value))}</title></rect>"
        )
        if n % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - pad + 14}">{escape(label[:16])}</text>')
    parts.append(f'<text x="0" y="12">{escape(_fmt(top))}</text>')
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def hbar_chart(labels: Sequence[str], values: Sequence[float], *, width: int = 1000) -> str:
    if not values:
        return '<p class="muted">No data.</p>'
    row, label_w = 20, 220
    top = max(max(values), 1e-9)
    parts = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        w = (width - label_w - 80) * value / top
        y = n * row
        parts.append(f'<text x="0" y="{y + 14}">{escape(label[:32])}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
            f'fill="{_PALETTE[2]}"/><text x="{label_w + w + 4:.1f}" y="{y + 14}">'
            f"{escape(_fmt(value))}</text>"
        )
    return f'<svg width="{width}" height="{row * len(values)}" role="img">{"".join(parts)}</svg>'


def line_chart(
    labels: Sequence[str], series: Mapping[str, Sequence[float]], *, width: int = 1000
) -> str:
    """Lines on a 0..1 scale (Gini coefficients), with a legend."""
    if not labels:
        return '<p class="muted">No data.</p>'
    height, pad = 240, 40
    step = (width - 2 * pad) / max(len(labels) - 1, 1)
    parts = [
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#99a"/>',
        f'<text x="0" y="{pad}">1.0</text><text x="0" y="{height - pad}">0.0</text>',
    ]
    for n, (name, values) in enumerate(series.items()):
        colour = _PALETTE[n % len(_PALETTE)]
        points = " ".join(
            f"{pad + i * step:.1f},{height - pad - (height - 2 * pad) * (v or 0):.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{pad + 10 + n * 160}" y="14" style="fill:{colour}">{escape(name)}</text>'
        )
    every = max(1, len(labels) // 6)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text x="{pad + i * step - 30:.1f}" y="{height - 20}">{escape(label)}</text>'
            )
    return f'<svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'


def _card(title: str, body: Mapping[str, Json] | None) -> str:
    if body is None:
        return f'<div class="card">{escape(title)}<b>no data</b></div>'
    lines = "".join(f"<div>{escape(k)}: {escape(_fmt(v))}</div>" for k, v in body.items())
    return f'<div class="card">{escape(title)}{lines}</div>'


def _exploits(found: Mapping[str, Any]) -> str:
    parts = []
    for name, detector in found.items():
        criteria = ", ".join(f"{k}={v}" for k, v in detector["criteria"].items())
        suspects = detector["suspects"]
        verdict = (
            f'<span class="bad">{len(suspects)} suspect(s)</span>'
            if suspects
            else '<span class="ok">no suspects</span>'
        )
        parts.append(f"<h3>{escape(name)} — {verdict}</h3><p class=muted>{escape(criteria)}</p>")
        parts.append(table(suspects, ["player_id", "username", "evidence"]))
        if name == "conservation":
            parts.append(table(detector["items"]))
    return "".join(parts)


def render_report(answers: Mapping[str, Json], *, lake: str, engine: str, at: str | None) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    moment = f"as of {at}" if at else "over everything the lake holds"
    html = [
        f"<!doctype html><html><head><meta charset=utf-8><title>bazaar report</title>"
        f"<style>{_CSS}</style></head><body><h1>bazaar: economy and behaviour report</h1>",
        f'<p class="muted">Lake {escape(lake)}, {escape(moment)}; engine {escape(engine)}; '
        f"made {made}.</p>",
        "<h2>The business questions</h2><div class=cards>",
    ]
    for qid in ("q1", "q2", "q3", "q4"):
        if qid in answers:
            html.append(_card(f"{qid}: {QUESTIONS[qid].title}", answers[qid]))
    html.append("</div>")
    if "trades_per_hour" in answers:
        hours = answers["trades_per_hour"]
        html.append(f"<h2>{QUESTIONS['trades_per_hour'].title}</h2>")
        html.append(bar_chart([h["hour"][:13] for h in hours], [h["trades"] for h in hours]))
        html.append(table(hours))
    if "item_velocity" in answers:
        items = answers["item_velocity"]
        html.append(f"<h2>{QUESTIONS['item_velocity'].title}</h2>")
        html.append(hbar_chart([i["name"] for i in items], [i["velocity"] or 0 for i in items]))
        html.append(table(items))
    if "wealth_gini" in answers:
        gini = answers["wealth_gini"]
        html.append(f"<h2>{QUESTIONS['wealth_gini'].title}</h2>")
        html.append(
            line_chart(
                [g["moment"][5:16] for g in gini],
                {"gold": [g["gini_gold"] for g in gini], "items": [g["gini_items"] for g in gini]},
            )
        )
        html.append(table(gini))
    if "top_traders" in answers:
        html.append(f"<h2>{QUESTIONS['top_traders'].title}</h2>")
        html.append(table(answers["top_traders"]))
    if "trade_graph" in answers:
        html.append(f"<h2>{QUESTIONS['trade_graph'].title}</h2>")
        html.append(table([answers["trade_graph"]]))
    if "exploits" in answers:
        html.append(f"<h2>{QUESTIONS['exploits'].title}</h2>")
        html.append(_exploits(answers["exploits"]))
    html.append("</body></html>")
    return "\n".join(html)
