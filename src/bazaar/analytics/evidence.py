"""Exploit suspects and their evidence, shown to people who must act on them: the terminal
tables of `bazaar ask exploits` (rich) and the report's section (HTML, no script).

Kept apart from render.py and report.py so the charts and the detectors' evidence can
change independently. Long id lists are cut to the first `SHOWN_IDS` in the terminal; the
JSON output (`--format json`) and the report keep every one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from rich.table import Table

from bazaar.analytics.formatting import format_value

Json = Any
SHOWN_IDS = 8
EVIDENCE_COLUMNS = (
    "player_id", "username", "role", "score", "trades", "counterparts", "value_in",
    "value_out", "max_ratio", "cycles", "value_cycled", "counterpart_ids", "trade_ids",
)  # fmt: skip


def _ids(values: Sequence[int], limit: int | None = SHOWN_IDS) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    more = len(values) - (limit or len(values))
    return f"{shown} (+{more} more)" if limit is not None and more > 0 else shown


def _columns(suspects: Sequence[Mapping[str, Json]]) -> list[str]:
    present = {k for s in suspects for k in s}
    return [c for c in EVIDENCE_COLUMNS if c in present]


def _cell(value: Json) -> str:
    if isinstance(value, list):
        return _ids(value)
    return format_value(value)


def suspects_table(title: str, detector: Mapping[str, Json]) -> Table:
    """One row per suspect (player and role), evidence as columns."""
    criteria = ", ".join(f"{k}={v}" for k, v in detector["criteria"].items())
    heading = f"{title}  ({criteria})"
    table = Table(title=heading, title_justify="left")
    suspects = detector["suspects"]
    if suspects and "evidence" in suspects[0]:  # the conservation audit: per-item drift
        columns = ["player_id", "username", "evidence"]
    else:
        columns = _columns(suspects) or ["player_id", "username", "role", "score"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for suspect in suspects:
        table.add_row(*(_cell(suspect.get(c)) for c in columns))
    if not suspects:
        table.add_row("-", "no suspects", *[""] * (len(columns) - 2))
    return table


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def truth_table(check: Mapping[str, Json]) -> Table:
    """Precision and recall per kind and overall, against a truth file."""
    table = Table(title="exploits / the detectors against the truth", title_justify="left")
    for column in ("kind", "detector", "labelled", "flagged", "right", "roles right",
                   "precision", "recall", "missed", "wrongly flagged"):  # fmt: skip
        table.add_column(column)
    for kind, k in check["kinds"].items():
        table.add_row(
            kind, k["detector"], str(k["labelled"]), str(k["flagged"]), str(k["right"]),
            str(k["roles_right"]), _share(k["precision"]), _share(k["recall"]),
            _ids(k["missed"]), _ids(k["wrongly_flagged"]),
        )  # fmt: skip
    o = check["overall"]
    table.add_row(
        "overall", "", str(o["labelled"]), str(o["flagged"]), str(o["right"]),
        str(o["roles_right"]), _share(o["precision"]), _share(o["recall"]), "", "",
    )  # fmt: skip
    table.caption = f"honest players flagged: {_ids(check['honest_flagged']) or 'none'}"
    return table


def _trade_link(trade_id: int, api: str | None) -> str:
    if api is None:
        return str(trade_id)
    return f'<a href="{escape(api.rstrip("/"))}/trades/{trade_id}">{trade_id}</a>'


def suspects_html(
    name: str,
    detector: Mapping[str, Json],
    api: str | None = None,
    pages: Mapping[int, Any] | None = None,
) -> str:
    """A detector's suspects for the report: a summary row per suspect linking to the full
    evidence below it (every trade id, linked to the API's GET /trades/{id} when `api` is
    given) and to the player's own page of trades in the report (`pages`), so a reader can
    open each trade behind a finding."""
    suspects = detector["suspects"]
    if not suspects:
        return ""
    columns = [c for c in _columns(suspects) if c not in ("counterpart_ids", "trade_ids")]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    rows, details = [], []
    for s in suspects:
        anchor = f"{name}-{s['player_id']}-{s.get('role', '')}"
        cells = []
        for c in columns:
            text = escape(_cell(s.get(c)))
            if c == "player_id":
                text = f'<a href="#{escape(anchor)}">{text}</a>'
            cells.append(f"<td>{text}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
        trades = ", ".join(_trade_link(int(t), api) for t in s.get("trade_ids", []))
        partners = escape(_ids(s.get("counterpart_ids", []), None))
        page = ""
        if pages and s["player_id"] in pages:
            page = f' <a href="#player-{int(s["player_id"])}">all of the player\'s trades</a>'

        details.append(
            f'<details id="{escape(anchor)}"><summary>{escape(str(s["username"]))} '
            f"(#{s['player_id']}), {escape(str(s.get('role')))}: "
            f"{len(s.get('trade_ids', []))} trade(s){page}</summary>"
            f"<p>counterparts: {partners}</p><p>trades: {trades}</p></details>"
        )
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{''.join(details)}"
