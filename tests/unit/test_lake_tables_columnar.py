"""Column-wise batch decoding: the same rows and dead letters as the strict per-event decoder,
and one bad event in a batch costs only itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from deltalake import DeltaTable

from bazaar.lake.batch import Polled
from bazaar.lake.columnar import EVENT_INDEX, decode_batch
from bazaar.lake.tables import TABLES, event_rows, to_arrow
from bazaar.lake.writer import LakeWriter
from tests.support.documents import with_changes


def _instant(n: int) -> str:
    return f"2026-11-29T10:{n // 60 % 60:02d}:{n % 60:02d}.{n:06d}Z"


def created(n: int) -> dict[str, Any]:
    items = [{"item_id": i, "quantity": 10 * i + n} for i in range(1, n % 3 + 1)]
    return {
        "event_id": f"c-{n}", "event_type": "player_created", "schema_version": 1,
        "occurred_at": _instant(n),
        "payload": {
            "player_id": n, "username": f"alchemist-{n}", "player_class": "alchemist",
            "gold": 1000 + n, "capacity": 999, "items": items, "version": 1,
            "distinct_items": len(items), "items_value": 7 * n, "items_held": 3 * n,
        },
    }  # fmt: skip


def _side(player: int, n: int, gives: int) -> dict[str, Any]:
    return {
        "player_id": player, "gold": n % 7,
        "items": [{"item_id": i, "quantity": i + 1, "value": 100 * i} for i in range(gives)],
        "gold_after": 50 + n, "version": 2 + n, "distinct_items": 2, "items_value": 9,
        "items_held": 11, "items_after": [{"item_id": 4, "quantity": n}, {"item_id": 5,
        "quantity": 1}][: n % 3],
    }  # fmt: skip


def accepted(n: int) -> dict[str, Any]:
    return {
        "event_id": f"a-{n}", "event_type": "trade_accepted", "schema_version": 1,
        "occurred_at": _instant(n),
        "payload": {
            "trade_id": n, "player_1": _side(n, n, n % 3), "player_2": _side(n + 1, n, n % 2),
        },
    }  # fmt: skip


def rejected(n: int) -> dict[str, Any]:
    return {
        "event_id": f"r-{n}", "event_type": "trade_rejected", "schema_version": 1,
        "occurred_at": _instant(n),
        "payload": {
            "trade_id": n, "reason": "insufficient_gold",
            "detail": None if n % 2 else f"player_1: has {n} gold",
            "player_1": {"player_id": n, "gold": n, "items": []},
            "player_2": {"player_id": n + 2, "gold": 0, "items": [
                {"item_id": 8, "quantity": 5, "value": 5}]},
        },
    }  # fmt: skip


def _dumps(doc: dict[str, Any], **options: Any) -> bytes:
    return orjson.dumps(doc, **options)


# Valid events the fast path must leave to the strict path (and that the strict path maps).
VALID_BUT_UNUSUAL = [
    with_changes(accepted(900), occurred_at="2026-11-30T01:30:00.250000+02:00"),  # another zone
    with_changes(created(901), payload__username="Élodie-NaN"),  # non-ASCII, "NaN" in a value
]
PRETTY = _dumps(accepted(903), option=orjson.OPT_INDENT_2)  # valid JSON over many lines
# Invalid events: each must become exactly one dead letter with the strict path's reason.
INVALID = [
    b"not json",
    b"",
    b'{"event_id": "x"}{"event_id": "y"}',
    _dumps(with_changes(accepted(910), event_type="trade_exploded")),
    _dumps(with_changes(accepted(911), schema_version=2)),
    _dumps(with_changes(accepted(912), occurred_at="2026-02-30T10:00:00.000000Z")),
    _dumps(with_changes(accepted(913), occurred_at="2026-11-29T10:00:00.000000")),
    _dumps(with_changes(accepted(914), payload__trade_id="914")),
    _dumps(with_changes(accepted(915), payload__player_1__gold=True)),
    _dumps(with_changes(accepted(916), payload__player_2__items=[None])),
    _dumps(with_changes(created(917), payload__username=None)),
    _dumps(with_changes(rejected(918), payload__detail=5)),
    _dumps(with_changes(rejected(919), event_id="")),
    # NaN in a field nobody reads: Arrow would skip it, orjson (the reference) refuses it.
    _dumps(rejected(920)).replace(b'"schema_version":1,', b'"schema_version":1,"x":NaN,'),
]


def mixed_batch() -> list[bytes]:
    raws = []
    for n in range(1, 301):
        raws.append(_dumps((created, accepted, rejected)[n % 3](n)))
    for k, raw in enumerate(INVALID):
        raws.insert(7 + 23 * k, raw)
    for k, doc in enumerate(VALID_BUT_UNUSUAL):
        raws.insert(11 + 31 * k, _dumps(doc))
    raws.insert(150, PRETTY)
    return raws


def _decode(raws: list[bytes], *, fast: bool) -> Any:
    return decode_batch(raws, ["outbox"] * len(raws), list(range(len(raws))), 1, fast=fast)


def test_fast_and_strict_paths_produce_identical_rows_for_a_mixed_batch() -> None:
    raws = mixed_batch()
    fast, strict = _decode(raws, fast=True), _decode(raws, fast=False)
    for table in TABLES:
        assert fast.tables[table].equals(strict.tables[table]), table
    assert fast.event_ids == strict.event_ids and fast.event_dates == strict.event_dates
    assert fast.dead_letters == strict.dead_letters == len(INVALID)
    # Only the odd events took the strict path: the fast path really carried the rest.
    assert fast.strict_events == len(INVALID) + len(VALID_BUT_UNUSUAL) + 1
    # And both agree with the reference decoder, event by event.
    for row in fast.tables["trades"].to_pylist():
        raw = raws[row.pop(EVENT_INDEX)]
        expected = event_rows(raw, row["source"], row["position"]).rows["trades"]
        assert [row] == to_arrow("trades", expected).to_pylist()
    assert fast.event_dates[raws.index(_dumps(VALID_BUT_UNUSUAL[0]))] == "2026-11-29"


def test_unusual_but_valid_events_keep_their_rows() -> None:
    out = _decode([_dumps(d) for d in VALID_BUT_UNUSUAL] + [PRETTY], fast=True)
    assert out.dead_letters == 0
    assert out.tables["players"].column("username").to_pylist() == ["Élodie-NaN"]
    assert out.tables["trades"].column("trade_id").to_pylist() == [900, 903]


def test_a_malformed_event_lands_as_one_dead_letter_and_its_neighbours_land(
    tmp_path: Path,
) -> None:
    docs = [(created, accepted, rejected)[n % 3](n) for n in range(1, 2001)]
    raws = [_dumps(d) for d in docs]
    raws.insert(1234, b'{"event_id": "broken", "payload": {')
    batch = Polled(["outbox"] * len(raws), list(range(1, len(raws) + 1)), raws)
    with LakeWriter(tmp_path / "lake") as writer:
        result = writer.write(batch)
    assert result.dead_letters == 1

    def table(name: str) -> pa.Table:
        return DeltaTable(f"{tmp_path / 'lake'}/{name}").to_pyarrow_table()

    landed = []
    for name in ("players", "trades", "rejected_trades"):
        landed += table(name).column("event_id").to_pylist()
    assert sorted(landed) == sorted(d["event_id"] for d in docs)
    kinds = [d["event_type"] for d in docs]
    assert table("players").num_rows == kinds.count("player_created")
    assert table("trades").num_rows == kinds.count("trade_accepted")
    lines = sum(
        len(d["payload"][s]["items"]) for d in docs if d["event_type"] == "trade_accepted"
        for s in ("player_1", "player_2")
    )  # fmt: skip
    assert table("trade_items").num_rows == lines
    (dead,) = table("dead_letters").to_pylist()
    assert dead["raw"] == raws[1234] and dead["position"] == 1235
    assert dead["error"].startswith("not JSON")
