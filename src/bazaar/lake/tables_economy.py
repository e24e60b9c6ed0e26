"""The lake's economy tables: faucets and sinks besides player creation, from the
goods_granted / goods_consumed events and the trade fee on trade_accepted. The conservation
audit (analytics/queries/exploit_conservation.sql) reads them:
supply = creations + grants - consumptions - fees, per item and for gold.

    adjustments       one row per grant or consumption (a primary table: every such event
                      has its one row here)
    adjustment_items  one row per item line of one
    trade_fees        one row per side that paid a trade fee

The player's state after a grant or consumption lands in player_states (cause `grant` /
`consumption`) and holdings, as after a trade. Contract: docs/LAKE.md.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from bazaar.domain.events import GOODS_GRANTED
from bazaar.lake.fields import _element, _int, _list, _obj, _quantities, _str, _summary

ADJUSTMENTS = "adjustments"
ADJUSTMENT_ITEMS = "adjustment_items"
TRADE_FEES = "trade_fees"

Row = tuple[Any, ...]
_I, _S, _T = pa.int64(), pa.string(), pa.timestamp("us", tz="UTC")


def _schema(*columns: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema([pa.field(name, kind, nullable=nullable) for name, kind, nullable in columns])


ECONOMY_SCHEMAS: dict[str, pa.Schema] = {
    ADJUSTMENTS: _schema(
        ("adjustment_id", _I, False),
        ("kind", _S, False),  # grant | consumption
        ("player_id", _I, False),
        ("reason", _S, False),
        ("at", _T, False),
        ("gold", _I, False),
        ("items_value", _I, False),  # catalog value of the item lines at the time
        ("item_units", _I, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
        ("source", _S, False),
        ("position", _I, False),
    ),
    ADJUSTMENT_ITEMS: _schema(
        ("adjustment_id", _I, False),
        ("kind", _S, False),
        ("player_id", _I, False),
        ("reason", _S, False),
        ("at", _T, False),
        ("item_id", _I, False),
        ("quantity", _I, False),
        ("unit_value", _I, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
    ),
    TRADE_FEES: _schema(
        ("trade_id", _I, False),
        ("executed_at", _T, False),
        ("player_id", _I, False),
        ("fee", _I, False),
        ("event_id", _S, False),
        ("event_date", _S, False),
    ),
}


def adjustment_rows(
    kind: str, p: dict[str, Any], at: int, ids: tuple[str, str], source: str, pos: int
) -> dict[str, list[Row]]:
    """The rows of a goods_granted / goods_consumed event (`ids`: event id and date)."""
    w = "payload"
    grant = kind == GOODS_GRANTED
    label = "grant" if grant else "consumption"
    adjustment_id = _int(p, "grant_id" if grant else "consumption_id", w)
    player_id, reason, gold = _int(p, "player_id", w), _str(p, "reason", w), _int(p, "gold", w)
    lines = []
    for x in _list(p, "items", w):
        line = _element(x, f"{w}.items")
        lines.append(
            (
                _int(line, "item_id", f"{w}.items"),
                _int(line, "quantity", f"{w}.items"),
                _int(line, "value", f"{w}.items"),
            )
        )
    gold_after = _int(p, "gold_after", w)
    version, distinct, value, held = _summary(p, w)
    touched = _quantities(_list(p, "items_after", w), f"{w}.items_after")
    eid, date = ids
    rows: dict[str, list[Row]] = {
        ADJUSTMENTS: [
            (
                adjustment_id,
                label,
                player_id,
                reason,
                at,
                gold,
                sum(q * v for _, q, v in lines),
                sum(q for _, q, _ in lines),
                eid,
                date,
                source,
                pos,
            )
        ],
        "player_states": [
            (player_id, version, at, gold_after, distinct, value, held, label, None, eid, date)
        ],
    }
    if lines:
        rows[ADJUSTMENT_ITEMS] = [
            (adjustment_id, label, player_id, reason, at, i, q, v, eid, date) for i, q, v in lines
        ]
    if touched:
        rows["holdings"] = [(player_id, i, q, version, at, eid, date) for i, q in touched]
    return rows


def fee_rows(p: dict[str, Any], at: int, ids: tuple[str, str]) -> list[Row]:
    """trade_fees rows of a trade_accepted event (none when no side paid a fee)."""
    rows = []
    trade_id = _int(p, "trade_id", "payload")
    for side in ("player_1", "player_2"):
        doc = _obj(p, side, "payload")
        if "fee" in doc:
            fee = _int(doc, "fee", f"payload.{side}")
            rows.append((trade_id, at, _int(doc, "player_id", f"payload.{side}"), fee, *ids))
    return rows
