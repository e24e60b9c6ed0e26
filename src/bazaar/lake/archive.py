"""Answers from the lake for records the store has dropped after its retention: `GET
/trades/{id}` of `bazaar serve --lake PATH` reads an archived trade here.

The lake keeps what analytics needs, not the store's full record: an accepted trade comes
back with both sides' gold and item lines (from `trades` and `trade_items`), a rejected one
with its reason and gold but without its item lines (`rejected_trades` does not keep them).
Trade ids grow with time, so Parquet statistics let the filter skip all but a file or two.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from bazaar.domain.clock import format_instant
from bazaar.domain.errors import StoreUnavailable
from bazaar.lake.batch import normalise_root, table_uri
from bazaar.lake.tables import REJECTED_TRADES, TRADE_ITEMS, TRADES


class LakeArchive:
    """Read-only lookups of single records in a lake (opened per call: always current)."""

    def __init__(self, lake: str, storage_options: Mapping[str, str] | None = None) -> None:
        self.root = normalise_root(lake)
        self.storage_options = dict(storage_options or {})

    def _rows(self, table: str, trade_id: int) -> list[dict[str, Any]]:
        try:
            dt = DeltaTable(table_uri(self.root, table), storage_options=self.storage_options)
            found = dt.to_pyarrow_dataset().to_table(filter=pc.field("trade_id") == trade_id)
        except TableNotFoundError:
            return []  # no event of this kind has landed yet
        except (DeltaError, OSError, pa.ArrowException) as exc:
            # 503 with Retry-After, as when the store is away: the record exists somewhere.
            raise StoreUnavailable(f"the lake at {self.root} cannot be read: {exc}") from exc
        rows: list[dict[str, Any]] = found.to_pylist()
        return rows

    def trade(self, trade_id: int) -> dict[str, Any] | None:
        """The GET /trades/{id} view of an archived trade, marked `"source": "lake"`; None
        when the lake does not hold it (yet)."""
        accepted = self._rows(TRADES, trade_id)
        if accepted:
            row = accepted[0]
            items = self._rows(TRADE_ITEMS, trade_id)
            sides = {}
            for n in (1, 2):
                pid = row[f"player_{n}_id"]
                lines = [
                    {"item_id": i["item_id"], "quantity": i["quantity"]}
                    for i in items
                    if i["giver_id"] == pid
                ]
                sides[f"player_{n}"] = {
                    "player_id": pid,
                    "items": sorted(lines, key=lambda line: line["item_id"]),
                    "gold": row[f"player_{n}_gold"],
                }
            return {
                "trade_id": trade_id,
                "status": "accepted",
                "executed_at": _instant(row["executed_at"]),
                **sides,
                "source": "lake",
            }
        rejected = self._rows(REJECTED_TRADES, trade_id)
        if not rejected:
            return None
        row = rejected[0]
        return {
            "trade_id": trade_id,
            "status": "rejected",
            "executed_at": _instant(row["executed_at"]),
            "player_1": {
                "player_id": row["player_1_id"],
                "items": None,
                "gold": row["player_1_gold"],
            },
            "player_2": {
                "player_id": row["player_2_id"],
                "items": None,
                "gold": row["player_2_gold"],
            },
            "reason": row["reason"],
            "detail": row["detail"],
            "source": "lake",
        }


def _instant(value: datetime) -> str:
    return format_instant(value)
