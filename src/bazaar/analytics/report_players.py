"""A page per chosen player in the report (an anchored section `#player-ID`): why it was
chosen (the detectors that flagged it, its rank among traders), its gold and item value
over time, the items it held over time, and whom it traded with."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from bazaar.analytics.charts import ChartBook, axis, layout, step, time_axis
from bazaar.analytics.html_tables import player_anchor, table
from bazaar.analytics.timebuckets import TimeBuckets, instant

TOP_ITEMS = 8  # items drawn in a player's holdings chart (those it held most of)
TOP_PARTNERS = 10


def _page(
    book: ChartBook,
    pid: int,
    who: Mapping[str, Any],
    eco: Mapping[str, Any],
    tb: TimeBuckets,
    pages: Mapping[int, Any],
) -> str:
    title = f"{who['username'] or 'player'} (#{pid})"
    states = eco["player_states"].get(pid, [])
    x = [instant(s["bucket_us"]) for s in states]
    holdings = book.chart("player_holdings", [
        step("gold", x, [s["gold"] for s in states]),
        step("items (catalog value)", x, [s["items_value"] for s in states], yaxis="y2"),
    ], layout(f"{title}: gold and item value", time_axis(tb), axis("gold pieces"),
              yaxis2=axis("item value (gold pieces)", overlaying="y", side="right")))  # fmt: skip
    per_item: dict[int, tuple[list[str], list[int]]] = {}
    names: dict[int, str] = {}
    for row in eco["player_items"].get(pid, []):
        names[row["item_id"]] = row["name"]
        xs, ys = per_item.setdefault(row["item_id"], ([], []))
        xs.append(instant(row["bucket_us"]))
        ys.append(row["quantity"])
    most = sorted(per_item, key=lambda i: (-max(per_item[i][1]), i))[:TOP_ITEMS]
    items = book.chart(
        "player_items",
        [step(names[i], *per_item[i]) for i in most],
        layout(f"{title}: units held of its {len(most)} largest items", time_axis(tb),
               axis("units held")),
    )  # fmt: skip
    partners = eco["player_partners"].get(pid, [])[:TOP_PARTNERS]
    changes = sum(s["changes"] for s in states)
    return (
        f'<section class="player" id="{player_anchor(pid)}"><h3>{escape(title)}</h3>'
        f"<p>{escape('; '.join(who['why']))}. {changes:,} state changes. "
        "<a href='#players'>all players</a> · <a href='#top'>top</a></p>"
        f"{holdings}{items}<p class=muted>Heaviest counterparties</p>"
        f"{table(partners, pages=pages)}</section>"
    )


def player_pages(book: ChartBook, eco: Mapping[str, Any], tb: TimeBuckets) -> str:
    pages: Mapping[int, Any] = eco.get("players") or {}
    index = "".join(
        f"<li><a href='#{player_anchor(pid)}'>{escape(who['username'] or 'player')} "
        f"(#{pid})</a>: {escape('; '.join(who['why']))}</li>"
        for pid, who in pages.items()
    )
    html = [
        "<h2 id=players>Players: suspects and top traders</h2>",
        f"<ul>{index}</ul>" if index else '<p class="muted">No suspects or traders yet.</p>',
    ]
    html += [_page(book, pid, who, eco, tb, pages) for pid, who in pages.items()]
    return "".join(html)
