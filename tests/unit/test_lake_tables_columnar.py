"""Column-wise batch decoding: the same rows and dead letters as the strict per-event decoder.
(That one bad event in a batch written to the lake costs only itself is
tests/integration/test_lake_dead_letters.py.)"""

from __future__ import annotations

from typing import Any

import orjson

from bazaar.lake.columnar import EVENT_INDEX, decode_batch
from bazaar.lake.event_rows import event_rows
from bazaar.lake.tables import TABLES, to_arrow
from tests.support.documents import with_changes
from tests.support.lake_events import accepted, created, dumps, rejected

# Valid events the fast path must leave to the strict path (and that the strict path maps).
VALID_BUT_UNUSUAL = [
    with_changes(accepted(900), occurred_at="2026-11-30T01:30:00.250000+02:00"),  # another zone
    with_changes(created(901), payload__username="Élodie-NaN"),  # non-ASCII, "NaN" in a value
]
PRETTY = dumps(accepted(903), option=orjson.OPT_INDENT_2)  # valid JSON over many lines
# Invalid events: each must become exactly one dead letter with the strict path's reason.
INVALID = [
    b"not json",
    b"",
    b'{"event_id": "x"}{"event_id": "y"}',
    dumps(with_changes(accepted(910), event_type="trade_exploded")),
    dumps(with_changes(accepted(911), schema_version=2)),
    dumps(with_changes(accepted(912), occurred_at="2026-02-30T10:00:00.000000Z")),
    dumps(with_changes(accepted(913), occurred_at="2026-11-29T10:00:00.000000")),
    dumps(with_changes(accepted(914), payload__trade_id="914")),
    dumps(with_changes(accepted(915), payload__player_1__gold=True)),
    dumps(with_changes(accepted(916), payload__player_2__items=[None])),
    dumps(with_changes(created(917), payload__username=None)),
    dumps(with_changes(rejected(918), payload__detail=5)),
    dumps(with_changes(rejected(919), event_id="")),
    # NaN in a field nobody reads: Arrow would skip it, orjson (the reference) refuses it.
    dumps(rejected(920)).replace(b'"schema_version":1,', b'"schema_version":1,"x":NaN,'),
]


def mixed_batch() -> list[bytes]:
    raws = []
    for n in range(1, 301):
        raws.append(dumps((created, accepted, rejected)[n % 3](n)))
    for k, raw in enumerate(INVALID):
        raws.insert(7 + 23 * k, raw)
    for k, doc in enumerate(VALID_BUT_UNUSUAL):
        raws.insert(11 + 31 * k, dumps(doc))
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
    assert fast.event_dates[raws.index(dumps(VALID_BUT_UNUSUAL[0]))] == "2026-11-29"


def test_unusual_but_valid_events_keep_their_rows() -> None:
    out = _decode([dumps(d) for d in VALID_BUT_UNUSUAL] + [PRETTY], fast=True)
    assert out.dead_letters == 0
    assert out.tables["players"].column("username").to_pylist() == ["Élodie-NaN"]
    assert out.tables["trades"].column("trade_id").to_pylist() == [900, 903]
