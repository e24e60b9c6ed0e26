"""Event bytes -> lake rows: what each event contributes, and what becomes a dead letter."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bazaar.codec import MalformedEvent
from bazaar.lake.event_rows import event_rows
from bazaar.lake.tables import as_dicts, to_arrow
from tests.support.documents import with_changes

ACCEPTED: dict[str, Any] = {
    "event_id": "e-1",
    "event_type": "trade_accepted",
    "schema_version": 1,
    "occurred_at": "2026-11-29T23:59:59.500000Z",
    "payload": {
        "trade_id": 9,
        "player_1": {
            "player_id": 3, "gold": 0, "items": [{"item_id": 17, "quantity": 3, "value": 100000}],
            "gold_after": 10, "version": 5, "items_after": [{"item_id": 5, "quantity": 40},
            {"item_id": 17, "quantity": 739}], "distinct_items": 5, "items_value": 7,
            "items_held": 894,
        },
        "player_2": {
            "player_id": 1, "gold": 95, "items": [], "gold_after": 2395, "version": 4,
            "items_after": [{"item_id": 5, "quantity": 460}, {"item_id": 17, "quantity": 3}],
            "distinct_items": 4, "items_value": 8, "items_held": 899,
        },
    },
}  # fmt: skip


def test_accepted_trade_rows() -> None:
    out = event_rows(orjson.dumps(ACCEPTED), "outbox", 12)
    assert out.event_date == "2026-11-29"
    (trade,) = as_dicts("trades", out.rows["trades"])
    assert trade["player_1_items_value"] == 300000 and trade["player_2_gold"] == 95
    assert (trade["item_lines"], trade["source"], trade["position"]) == (1, "outbox", 12)
    (line,) = as_dicts("trade_items", out.rows["trade_items"])
    assert (line["giver_id"], line["receiver_id"], line["quantity"]) == (3, 1, 3)
    states = as_dicts("player_states", out.rows["player_states"])
    assert [(s["player_id"], s["version"], s["cause"]) for s in states] == [
        (3, 5, "trade"),
        (1, 4, "trade"),
    ]
    assert len(out.rows["holdings"]) == 4
    table = to_arrow("trades", out.rows["trades"])
    assert str(table.column("executed_at")[0]) == "2026-11-29 23:59:59.500000+00:00"


def _broken(**changes: Any) -> bytes:
    return orjson.dumps(with_changes(ACCEPTED, **changes))


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        _broken(event_type="trade_exploded"),
        _broken(schema_version=2),
        _broken(occurred_at="yesterday"),
        _broken(occurred_at="2026-11-29T10:00:00"),  # no zone
        _broken(payload__trade_id="9"),
        _broken(payload__player_1__gold=True),
        _broken(payload__player_2__items=[1]),
        _broken(payload__player_2__items_after={"item_id": 1}),
    ],
)
def test_malformed_events_are_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(MalformedEvent) as caught:
        event_rows(raw, "outbox", 1)
    assert str(caught.value)
