"""Outbox -> Delta Lake: every event lands once, across restarts, crashes and redelivery.

Real SQLite store files, real Delta tables, the real `bazaar ingest` command."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from bazaar.cli.main import main
from bazaar.domain.catalog import load_catalog
from bazaar.domain.model import ItemLine, TradeRequest, TradeSide
from bazaar.domain.trading import Accepted
from bazaar.lake.batch import Polled
from bazaar.lake.event_rows import event_rows
from bazaar.lake.follower import LakeFollower, lake_position, wait_for_lake
from bazaar.lake.maintenance import compact, vacuum
from bazaar.lake.tables import TABLES
from bazaar.lake.writer import LakeWriter
from bazaar.store.base import OutboxEntry, Store
from bazaar.store.sqlite import SQLiteStore
from tests.support.trades import add_players

# -- helpers (also used by test_lake_kafka.py) ---------------------------------------------


class Trader:
    """Random trades among a store's players; mostly accepted, some rejected."""

    def __init__(self, store: Store, players: int, seed: int = 7) -> None:
        self.store = store
        self.rng = random.Random(seed)
        self.view = {pid: dict(store.get_player(pid).items) for pid in add_players(store, players)}
        self.ids = sorted(self.view)

    def _side(self, pid: int) -> TradeSide:
        held = self.view[pid]
        count = min(len(held), self.rng.choice((0, 1, 1, 2)))
        lines = tuple(
            ItemLine(item, self.rng.randint(1, 6)) for item in self.rng.sample(sorted(held), count)
        )
        return TradeSide(pid, lines, self.rng.choice((0, 0, self.rng.randint(1, 60))))

    def trade(self, n: int) -> None:
        for _ in range(n):
            a, b = self.rng.choice(self.ids), self.rng.choice(self.ids)
            outcome = self.store.execute_trade(TradeRequest(self._side(a), self._side(b)))
            if isinstance(outcome, Accepted):
                for state in (outcome.player_1, outcome.player_2):
                    self.view[state.player_id] = dict(state.items)


def outbox(store: Store) -> list[dict[str, Any]]:
    docs, after = [], 0
    while batch := store.read_outbox(after, 10_000):
        docs += [orjson.loads(e.body) for e in batch]
        after = batch[-1].seq
    return docs


def read_table(lake: Path | str, table: str) -> pa.Table:
    return DeltaTable(f"{lake}/{table}").to_pyarrow_table()


def expected_rows(docs: list[dict[str, Any]]) -> dict[str, int]:
    """Row counts per table that the LAKE.md contract implies for these events."""
    n: Counter[str] = Counter()
    for doc in docs:
        p = doc["payload"]
        if doc["event_type"] == "player_created":
            n["players"] += 1
            n["player_states"] += 1
            n["holdings"] += len(p["items"])
        elif doc["event_type"] == "trade_accepted":
            n["trades"] += 1
            n["trade_items"] += len(p["player_1"]["items"]) + len(p["player_2"]["items"])
            n["player_states"] += 2
            n["holdings"] += len(p["player_1"]["items_after"]) + len(p["player_2"]["items_after"])
        else:
            n["rejected_trades"] += 1
    return {t: n[t] for t in TABLES if t != "dead_letters"}


def assert_lake_equals_outbox(lake: Path | str, docs: list[dict[str, Any]]) -> None:
    counts = {t: read_table(lake, t).num_rows for t in TABLES if t != "dead_letters"}
    assert counts == expected_rows(docs)
    landed: list[str] = []
    for table in ("players", "trades", "rejected_trades"):
        landed += read_table(lake, table).column("event_id").to_pylist()
    assert len(landed) == len(set(landed)), "an event landed twice"
    assert set(landed) == {d["event_id"] for d in docs}
    states = read_table(lake, "player_states").select(["event_id", "player_id", "version"])
    keys = list(zip(*(states.column(i).to_pylist() for i in range(3)), strict=True))
    assert len(keys) == len(set(keys)), "a player state landed twice"


def ingest(store_url: str, lake: Path, *extra: str) -> int:
    return main(["ingest", "--store", store_url, "--lake", str(lake), "--quiet", *extra])


@pytest.fixture
def trader(tmp_path: Path) -> Trader:
    return Trader(SQLiteStore(tmp_path / "bazaar.db", load_catalog()), players=40)


def url_of(trader: Trader) -> str:
    assert isinstance(trader.store, SQLiteStore)
    return f"sqlite:///{trader.store.path}"


# -- tests ---------------------------------------------------------------------------------


def test_ingest_lands_every_event_once_and_resumes(trader: Trader, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    trader.trade(1500)
    assert ingest(url_of(trader), lake) == 0
    docs = outbox(trader.store)
    assert Counter(d["event_type"] for d in docs)["trade_rejected"] > 0
    assert_lake_equals_outbox(lake, docs)

    # A trade's row says what its event says, with catalog values.
    accepted = next(d for d in docs if d["event_type"] == "trade_accepted")
    trades = read_table(lake, "trades").to_pylist()
    row = next(r for r in trades if r["event_id"] == accepted["event_id"])
    one = accepted["payload"]["player_1"]
    assert row["trade_id"] == accepted["payload"]["trade_id"]
    assert row["player_1_gold"] == one["gold"]
    assert row["player_1_items_value"] == sum(i["quantity"] * i["value"] for i in one["items"])
    assert row["event_date"] == accepted["occurred_at"][:10]
    assert row["executed_at"].isoformat().startswith(accepted["occurred_at"][:19])

    # Running again adds nothing; new trades land, only them.
    assert ingest(url_of(trader), lake) == 0
    assert_lake_equals_outbox(lake, docs)
    trader.trade(300)
    assert ingest(url_of(trader), lake) == 0
    assert_lake_equals_outbox(lake, outbox(trader.store))
    assert lake_position(lake) == trader.store.outbox_head()
    assert DeltaTable(f"{lake}/trades").metadata().partition_columns == ["event_date"]


def commit_only(writer: LakeWriter, tables: Sequence[str], entries: Sequence[OutboxEntry]) -> None:
    """Commit a batch to some tables only, as an ingest that stopped after their commits
    (a crash, a full disk): write()'s per-table commit step, for these tables."""
    for table in tables:
        staged = []
        for e in entries:
            rows = event_rows(e.body, "outbox", e.seq).rows.get(table)
            if rows:
                staged.append(("outbox", e.seq, rows))
        writer._commit(table, staged, {"outbox": entries[-1].seq})


def _from_outbox(entries: Sequence[OutboxEntry], shift: int = 0) -> Polled:
    """Outbox entries as the lake writer reads them, at their seq (+ `shift`)."""
    seqs = [shift + e.seq for e in entries]
    return Polled(["outbox"] * len(entries), seqs, [e.body for e in entries])


def test_redelivered_events_land_once(trader: Trader, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    trader.trade(200)
    entries = trader.store.read_outbox(0, 10_000)
    with LakeWriter(lake) as writer:
        first = writer.write(_from_outbox(entries[:150]))
        # The same events again at new positions (an at-least-once relay re-sending), plus
        # a replay of an already-landed batch: only the 60 unseen events are new.
        again = _from_outbox(entries[100:210], shift=1000)
        second = writer.write(again)
        assert writer.write(_from_outbox(entries[:150])).rows == dict.fromkeys(TABLES, 0)
    assert first.duplicates == 0
    assert second.duplicates == 50
    # A fresh process (memory rebuilt from the lake) decides the same.
    with LakeWriter(lake) as writer:
        assert writer.write(again).rows == dict.fromkeys(TABLES, 0)
    assert_lake_equals_outbox(lake, outbox(trader.store)[:210])

    # The same store ingested under another source id is recognised event by event.
    assert ingest(url_of(trader), lake, "--source-id", "outbox-copy") == 0
    assert_lake_equals_outbox(lake, outbox(trader.store))


def test_malformed_event_goes_to_dead_letters_and_ingest_continues(
    trader: Trader, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    trader.trade(50)
    bad = [b"{not json", orjson.dumps({"event_id": "x", "event_type": "trade_accepted"})]
    with sqlite3.connect(trader.store.path) as db:  # corrupt entries, as a broken writer would
        for n, body in enumerate(bad):
            db.execute(
                "INSERT INTO outbox (event_id, event_type, occurred_at, key, body)"
                " VALUES (?, 'trade_accepted', '2026-01-01T00:00:00.000000Z', '1', ?)",
                (f"bad-{n}", body),
            )
    trader.trade(50)
    assert ingest(url_of(trader), lake) == 0
    dead = read_table(lake, "dead_letters").to_pylist()
    assert sorted(d["raw"] for d in dead) == sorted(bad)
    assert all(d["source"] == "outbox" and d["error"] for d in dead)
    good = [d for d in outbox_docs_skipping_bad(trader.store)]
    assert_lake_equals_outbox(lake, good)


def outbox_docs_skipping_bad(store: Store) -> list[dict[str, Any]]:
    docs, after = [], 0
    while batch := store.read_outbox(after, 10_000):
        for e in batch:
            if not e.event_id.startswith("bad-"):
                docs.append(orjson.loads(e.body))
        after = batch[-1].seq
    return docs


def _start_ingest(store_url: str, lake: Path, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "bazaar", "ingest", "--store", store_url, "--lake", str(lake)]
    cmd += ["--follow", "--flush-seconds", "0.2", "--flush-events", "2000"]
    with log.open("ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "bazaar.db", load_catalog(), synchronous="OFF")
    trader = Trader(store, players=200, seed=11)
    url, lake, log = url_of(trader), tmp_path / "lake", tmp_path / "ingest.log"
    total = 20_000
    done = threading.Event()

    def produce() -> None:
        try:
            for _ in range(total // 500):
                trader.trade(500)
        finally:
            done.set()

    producer = threading.Thread(target=produce)
    producer.start()
    rng = random.Random(int(os.environ.get("LAKE_CRASH_SEED", "5")))
    landed = []
    try:
        while len(landed) < 5:
            proc = _start_ingest(url, lake, log)
            # Startup takes ~1 s; kill anywhere from before the first commit to mid-run.
            time.sleep(rng.uniform(0.8, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            landed.append(lake_position(lake))
    finally:
        producer.join()
    assert done.is_set()
    assert landed[-1] > 0 and len(set(landed)) > 1, f"ingest made no progress: {landed}"
    # The final restart drains what the crashes left, like any restart would.
    drain = subprocess.run(
        [sys.executable, "-m", "bazaar", "ingest", "--store", url, "--lake", str(lake)],
        capture_output=True,
        timeout=300,
    )
    assert drain.returncode == 0, drain.stderr.decode()
    docs = outbox(store)
    assert sum(d["event_type"] != "player_created" for d in docs) == total
    assert_lake_equals_outbox(lake, docs)
    assert read_table(lake, "dead_letters").num_rows == 0


def test_crash_between_table_commits_is_repaired_by_a_restart(
    trader: Trader, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    trader.trade(400)
    entries = trader.store.read_outbox(0, 10_000)
    with LakeWriter(lake) as writer:
        writer.write(_from_outbox(entries[:100]))
        # The process dies after committing two of the next batch's seven tables.
        commit_only(writer, ("trades", "player_states"), entries[100:300])
    versions = LakeWriter(lake).open().table_versions("outbox")
    assert versions["trades"] == entries[299].seq
    assert versions["players"] == entries[99].seq
    assert lake_position(lake) == entries[99].seq
    assert ingest(url_of(trader), lake) == 0
    assert_lake_equals_outbox(lake, outbox(trader.store))


def test_follower_in_process_with_compaction_and_vacuum_running(
    trader: Trader, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    follower = LakeFollower(trader.store, lake, flush_seconds=0.1).start()
    try:
        for _ in range(6):
            trader.trade(100)
            assert follower.wait_for(trader.store.outbox_head(), timeout=60)
        files_before = len(DeltaTable(f"{lake}/trades").file_uris())
        assert files_before > 1
        # Maintenance while the follower keeps landing new trades.
        writer_side = threading.Thread(target=trader.trade, args=(400,))
        writer_side.start()
        compacted = {m.table: m for m in compact(lake)}
        vacuum(lake, retention_hours=1)
        writer_side.join()
        head = trader.store.outbox_head()
        assert wait_for_lake(lake, head, timeout=60)
    finally:
        follower.stop()
    assert compacted["trades"].removed > 1
    assert_lake_equals_outbox(lake, outbox(trader.store))
    with pytest.raises(ValueError):
        vacuum(lake, retention_hours=0)


def test_ingest_and_lake_commands_have_help_with_examples() -> None:
    for argv in (["ingest", "--help"], ["lake", "compact", "--help"], ["lake", "vacuum", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "bazaar", *argv], capture_output=True, text=True, check=True
        )
        assert "example:" in result.stdout


def test_serve_with_lake_lands_what_the_api_accepts(tmp_path: Path) -> None:
    import httpx

    from bazaar.cli.common import free_port

    port, lake, db = free_port(), tmp_path / "lake", tmp_path / "bazaar.db"
    cmd = [sys.executable, "-m", "bazaar", "serve", "--store", f"sqlite:///{db}"]
    proc = subprocess.Popen([*cmd, "--port", str(port), "--lake", str(lake)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/health")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "server did not start"
                    time.sleep(0.1)
            for player_class in ("farmer", "banker", "hunter"):
                assert client.post("/players", json={"player_class": player_class}).is_success
        store = SQLiteStore(db, load_catalog())
        assert wait_for_lake(lake, store.outbox_head(), timeout=30)
        assert_lake_equals_outbox(lake, outbox(store))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
