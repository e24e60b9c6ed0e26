"""One bad event in a batch written to a real Delta lake costs only itself: it lands as one
dead letter and every neighbour lands in its table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from bazaar.lake.batch import Polled
from bazaar.lake.writer import LakeWriter
from tests.support.lake_events import accepted, created, dumps, rejected


def test_a_malformed_event_lands_as_one_dead_letter_and_its_neighbours_land(
    tmp_path: Path,
) -> None:
    docs = [(created, accepted, rejected)[n % 3](n) for n in range(1, 2001)]
    raws = [dumps(d) for d in docs]
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
