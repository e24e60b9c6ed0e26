"""One way to show an answer's value to a person: in the terminal tables (render.py,
evidence.py) and in the HTML report (html_tables.py) alike."""

from __future__ import annotations

import json

from bazaar.analytics.asking import Json


def format_value(value: Json, missing: str = "-") -> str:
    """One way to show an answer's value, in the terminal and in the HTML report."""
    if value is None:
        return missing
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)
