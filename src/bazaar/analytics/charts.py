"""Charts for the report, drawn by plotly.js inlined into the page (so it opens offline).

A `ChartBook` collects figure specs (plotly's JSON: traces and a layout with titled axes)
while the report is written; each chart is a `<div class="chart" data-chart=NAME>` in the
page, and `ChartBook.scripts()` ends the page with plotly.js itself (from the `plotly`
package), every spec in one JSON block, and the loop that draws them. The specs are
written as plain dicts rather than through plotly's Python figure classes: the JSON is the
same, and validating dozens of figures in Python costs seconds on a large report.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from bazaar.analytics.timebuckets import TimeBuckets

PALETTE = ("#3b6fd8", "#e07b39", "#2a9d8f", "#b42318", "#7b5ea7", "#c9a227", "#5c6b7a",
           "#d1495b", "#00798c", "#8d6a9f")  # fmt: skip
_CONFIG = {"displaylogo": False, "responsive": True}
# Draws every chart once plotly.js has loaded; a chart that fails says so in its place.
_DRAW = """
const specs = JSON.parse(document.getElementById('chart-specs').textContent);
for (const [id, spec] of Object.entries(specs)) {
  Plotly.newPlot(id, spec.data, spec.layout, spec.config)
    .catch(e => { document.getElementById(id).textContent = 'chart failed: ' + e; });
}
"""


@cache
def plotly_js() -> str:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text("utf-8")


def axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "automargin": True, **extra}


def layout(title: str, x: Mapping[str, Any], y: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "xaxis": dict(x),
        "yaxis": dict(y),
        "height": 340,
        "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "legend": {"orientation": "h", "y": -0.25},
        "hovermode": "x unified",
        "colorway": list(PALETTE),
        "font": {"family": "system-ui, sans-serif", "size": 12},
        **extra,
    }


def time_axis(buckets: TimeBuckets | None = None) -> dict[str, Any]:
    """A date axis; with buckets, titled with their width and spanning the whole run (so a
    series that starts late or ends early shows where in the run it lies)."""
    if buckets is None:
        return axis("time (UTC)", type="date")
    return axis(f"time (UTC, {buckets.label} buckets)", type="date", range=list(buckets.span))


def line(name: str, x: Sequence[Any], y: Sequence[Any], **extra: Any) -> dict[str, Any]:
    return {"type": "scatter", "mode": "lines+markers", "name": name, "x": list(x),
            "y": list(y), "marker": {"size": 4}, **extra}  # fmt: skip


def step(name: str, x: Sequence[Any], y: Sequence[Any], **extra: Any) -> dict[str, Any]:
    """A line that holds its value until the next change (holdings, supply)."""
    return line(name, x, y, line={"shape": "hv"}, **extra)


def bars(name: str, x: Sequence[Any], y: Sequence[Any], **extra: Any) -> dict[str, Any]:
    return {"type": "bar", "name": name, "x": list(x), "y": list(y), **extra}


def _script_json(value: Any) -> str:
    # `</` would end the script element early: a username is data, never markup.
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


class ChartBook:
    """Charts of one report page, in the order they are added."""

    def __init__(self) -> None:
        self.specs: dict[str, dict[str, Any]] = {}

    def chart(self, name: str, data: Sequence[Mapping[str, Any]], spec: Mapping[str, Any]) -> str:
        """The chart's place in the page (an empty chart says so instead)."""
        if not any(len(trace.get("x") or trace.get("y") or ()) for trace in data):
            return f'<p class="muted">{escape(spec["title"]["text"])}: no data.</p>'
        chart_id = f"chart-{len(self.specs) + 1}"
        self.specs[chart_id] = {"data": list(data), "layout": dict(spec), "config": _CONFIG}
        return f'<div class="chart" id="{chart_id}" data-chart="{escape(name)}"></div>'

    def scripts(self) -> str:
        if not self.specs:
            return ""
        return (
            f"<script>{plotly_js()}</script>\n"
            f'<script type="application/json" id="chart-specs">'
            f"{_script_json(self.specs)}</script>\n"
            f"<script>{_DRAW}</script>"
        )
