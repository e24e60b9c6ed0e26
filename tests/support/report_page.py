"""Reading a written report back as a user's browser would: its charts (the plotly specs
in the page), its sections, and every address it names outside the inlined plotly.js."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any


@dataclass
class ReportPage:
    charts: dict[str, str] = field(default_factory=dict)  # div id -> data-chart name
    specs: dict[str, Any] = field(default_factory=dict)  # div id -> {data, layout}
    ids: set[str] = field(default_factory=set)  # every element id (anchors)
    links: list[str] = field(default_factory=list)  # every href / src
    text_outside_plotly: str = ""

    def charts_named(self, name: str) -> list[dict[str, Any]]:
        return [self.specs[i] for i, n in self.charts.items() if n == name]


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.page = ReportPage()
        self._script: dict[str, str] | None = None
        self._outside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.page.ids.add(a["id"])
        for key in ("href", "src"):
            if key in a:
                self.page.links.append(a[key])
        if tag == "div" and "chart" in a.get("class", "").split():
            self.page.charts[a["id"]] = a["data-chart"]
        if tag == "script":
            self._script = a
        self._outside.append(self.get_starttag_text() or "")

    def handle_data(self, data: str) -> None:
        if self._script is not None and self._script.get("id") == "chart-specs":
            self.page.specs = json.loads(data)
        # Everything but plotly.js itself: markup, the specs, the drawing loop.
        script = self._script
        if script is None or "Plotly.newPlot" in data or script.get("type") == "application/json":
            self._outside.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def read_report(html: str) -> ReportPage:
    reader = _Reader()
    reader.feed(html)
    reader.page.text_outside_plotly = "".join(reader._outside)
    return reader.page


def hosts_named(text: str) -> set[str]:
    return set(re.findall(r"(?:https?:)?//([a-z0-9.-]+\.[a-z]{2,})", text, re.I))
