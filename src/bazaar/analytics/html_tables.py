"""HTML tables for the report: rows of any columns, numbers right-aligned, a player with a
page of its own linked to it, and exploit suspects flattened whatever their evidence."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from bazaar.analytics.asking import Json
from bazaar.analytics.formatting import format_value


def player_anchor(player_id: int) -> str:
    return f"player-{player_id}"


def player_ref(player_id: int, text: str) -> str:
    """A link to the player's page (`text` is already escaped)."""
    return f'<a href="#{player_anchor(player_id)}">{text}</a>'


def fmt(value: Json) -> str:
    return format_value(value, missing="–")


def table(
    found: Sequence[Mapping[str, Json]],
    columns: Sequence[str] | None = None,
    *,
    pages: Mapping[int, Any] | None = None,
) -> str:
    """Rows as an HTML table; a player id with a page of its own links to it."""
    if not found:
        return '<p class="muted">No rows.</p>'
    columns = list(columns or dict.fromkeys(k for row in found for k in row))
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for row in found:
        cells = []
        for c in columns:
            v = row.get(c)
            numeric = isinstance(v, int | float) and not isinstance(v, bool)
            text = escape(fmt(v))
            if pages and c in ("player_id", "counterparty") and isinstance(v, int) and v in pages:
                text = player_ref(v, text)
            cells.append(f"<td{' class=n' if numeric else ''}>{text}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def suspect_rows(suspects: Sequence[Mapping[str, Json]]) -> list[dict[str, Json]]:
    """Suspects as flat table rows, whatever evidence the detector gives: a mapping becomes
    columns, a list of mappings one row per entry (the player repeated), anything else one
    `evidence` column."""
    flat: list[dict[str, Json]] = []
    for suspect in suspects:
        who = {k: v for k, v in suspect.items() if k != "evidence"}
        evidence = suspect.get("evidence")
        entries = evidence if isinstance(evidence, list) else [evidence]
        for entry in entries or [None]:
            if isinstance(entry, Mapping):
                flat.append({**who, **entry})
            elif entry is None:
                flat.append(who)
            else:
                flat.append({**who, "evidence": entry})
    return flat
