"""The report's offer funnel: offers created (ordinary and counter-offers) and where they
ended: accepted, declined, countered, cancelled, expired, failed (the trade broke a rule at
accept time), or still open; counts and shares of those created. The figures are
`bazaar ask economy`'s (economy_question.offer_funnel), not a second query.
"""

from __future__ import annotations

from collections.abc import Mapping

from bazaar.analytics.charts import ChartBook, axis, bars, layout
from bazaar.analytics.html_tables import table

# The report's order: what most offers come to first, the ones that need a look last.
ENDINGS = ("accepted", "declined", "countered", "cancelled", "expired", "failed", "open")


def funnel_rows(funnel: Mapping[str, int]) -> list[dict[str, object]]:
    """One row per stage: created, then each ending with its share of those created."""
    created = funnel.get("created", 0)
    rows: list[dict[str, object]] = [{"stage": "created", "offers": created, "share": "100%"}]
    for ending in ENDINGS:
        count = funnel.get(ending, 0)
        share = f"{100 * count / created:.1f}%" if created else "-"
        rows.append({"stage": ending, "offers": count, "share": share})
    return rows


def offer_funnel_section(book: ChartBook, funnel: Mapping[str, int] | None) -> str:
    head = "<h2 id=offers>Offer funnel</h2>"
    if not funnel or not funnel.get("created"):
        return head + '<p class="muted">No offers were made in this period.</p>'
    rows = funnel_rows(funnel)
    created = funnel["created"]
    settled = funnel.get("accepted", 0)
    summary = (
        f"<p>{created:,} offers created (counter-offers included); {settled:,} accepted"
        f" ({100 * settled / created:.1f}%), {funnel.get('countered', 0):,} answered with a"
        f" counter-offer, {funnel.get('open', 0):,} still open.</p>"
    )
    stages = [str(r["stage"]) for r in rows]
    chart = book.chart(
        "offer_funnel",
        [bars("offers", [r["offers"] for r in rows], stages, orientation="h",
              text=[str(r["share"]) for r in rows], textposition="auto")],
        layout("Where offers ended (share of those created)", axis("offers"),
               axis("stage", autorange="reversed"), hovermode="closest"),
    )  # fmt: skip
    return head + summary + chart + table(rows)
