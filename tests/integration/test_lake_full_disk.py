"""The lake on a full disk, and reads that stay consistent when its tables differ.

A real filling disk: a small tmpfs mounted for the test (the CI runs as root), remounted
larger to free space. Real SQLite store,
real Delta tables, the real `bazaar` program in a subprocess (its stderr is what a user
sees)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bazaar.lake.writer import LakeWriter
from bazaar.store.sqlite import SQLiteStore
from tests.integration.test_lake_ingest import (
    Trader,
    _from_outbox,
    assert_lake_equals_outbox,
    commit_only,
    outbox,
    url_of,
)

SMALL = 600 * 1024
ROOMY = "64m"
RUST_NOISE = ("panicked", "RUST_BACKTRACE", "stack backtrace", "Traceback")


class SmallDisk:
    """A small tmpfs the lake fills; `free()` makes room, as an operator would."""

    def __init__(self, root: Path, size: int) -> None:
        self.root = root
        root.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)],
            capture_output=True,
            text=True,
            timeout=10,
        )
        self.refused = done.stderr.strip() if done.returncode != 0 else None
        self.lake = root / "lake"

    def free(self) -> None:
        subprocess.run(["mount", "-o", f"remount,size={ROOMY}", str(self.root)], check=True)

    def release(self) -> None:
        subprocess.run(["umount", "-l", str(self.root)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SmallDisk]:
    # A file-size limit (RLIMIT_FSIZE) is no substitute: it also fails the store's own
    # writes (ingest records its consumer position there), so the error is the store's.
    disk = SmallDisk(tmp_path / f"disk-{uuid.uuid4().hex[:6]}", getattr(request, "param", SMALL))
    if disk.refused is not None:
        if os.geteuid() == 0:  # CI runs as root: a refused mount there is a failure, not a skip
            pytest.fail(f"root could not mount a small tmpfs: {disk.refused}")
        pytest.skip(f"mounting a small tmpfs needs root (CI runs as root): {disk.refused}")
    try:
        yield disk
    finally:
        disk.release()


@pytest.fixture
def trader(tmp_path: Path) -> Trader:
    from bazaar.domain.catalog import load_catalog

    return Trader(SQLiteStore(tmp_path / "bazaar.db", load_catalog()), players=40)


def bazaar(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUST_BACKTRACE": "1"}  # as on a developer's machine: loudest
    return subprocess.run(
        [sys.executable, "-m", "bazaar", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def ask_json(lake: Path, *questions: str) -> dict[str, Any]:
    run = bazaar("ask", *questions, "--lake", str(lake), "--format", "json")
    assert run.returncode == 0, run.stderr
    answers: dict[str, Any] = json.loads(run.stdout)
    answers["_stderr"] = run.stderr
    return answers


def accepted_up_to(docs: list[dict[str, Any]], position: int) -> int:
    """Accepted trades among the first `position` outbox entries (seq = index + 1)."""
    return sum(1 for d in docs[:position] if d["event_type"] == "trade_accepted")


def test_ingest_on_a_full_disk_fails_in_one_line_then_a_rerun_lands_everything_once(
    trader: Trader, small_disk: SmallDisk
) -> None:
    trader.trade(3000)
    docs = outbox(trader.store)
    args = ("ingest", "--store", url_of(trader), "--lake", str(small_disk.lake))
    full = bazaar(*args, "--flush-events", "500")

    assert full.returncode != 0
    lines = [line for line in full.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, full.stderr
    assert errors[0].startswith(
        f"error: lake write failed: no space left on device ({small_disk.lake}/"
    )
    assert "rerun" in errors[0] and "nothing was half-written" in errors[0]
    assert not [w for w in RUST_NOISE if w in full.stderr], full.stderr

    # What the lake holds meanwhile is read as of one position, whatever each table reached.
    partial = ask_json(small_disk.lake, "q1")
    mark = partial["lake"]["position"]
    assert 0 <= mark < len(docs)
    assert partial["q1"]["trades"] == accepted_up_to(docs, mark)
    reached = {t: p["outbox"] for t, p in partial["lake"]["tables"].items()}
    assert min(reached.values()) == mark
    assert partial["lake"]["consistent"] == (set(reached.values()) == {mark})

    small_disk.free()
    rerun = bazaar(*args, "--quiet")
    assert rerun.returncode == 0, rerun.stderr
    assert_lake_equals_outbox(small_disk.lake, docs)
    whole = ask_json(small_disk.lake, "q1")
    assert whole["lake"] | {"tables": None} == {
        "position": len(docs),
        "positions": {"outbox": len(docs)},
        "tables": None,
        "consistent": True,
        "warning": None,
    }
    assert whole["q1"]["trades"] == accepted_up_to(docs, len(docs))
    assert "warning" not in whole["_stderr"]


def test_ask_answers_at_the_watermark_and_warns_when_tables_differ(
    trader: Trader, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    trader.trade(400)
    entries = trader.store.read_outbox(0, 10_000)
    docs = outbox(trader.store)
    with LakeWriter(lake) as writer:
        writer.write(_from_outbox(entries[:150]))
        # Ingest stops after `trades`, `players` and `player_states` took the next batch
        # (a full disk, a crash): those three stand at entry 300, the others at 150.
        commit_only(writer, ("trades", "players", "player_states"), entries[150:300])
    low, high = entries[149].seq, entries[299].seq
    assert accepted_up_to(docs, high) > accepted_up_to(docs, low)  # the tables do differ

    answers = ask_json(lake, "q1", "q3")
    assert answers["q1"]["trades"] == accepted_up_to(docs, low)
    assert answers["lake"]["position"] == low
    assert answers["lake"]["consistent"] is False
    warning = (
        f"tables differ: players, trades, player_states at {high:,}; "
        f"trade_items, rejected_trades, holdings, offers, adjustments, adjustment_items,"
        f" trade_fees, holds at {low:,}; answering as of {low:,}"
    )
    assert answers["lake"]["warning"] == warning
    assert f"warning: {warning}" in answers["_stderr"]
    # q3 reads player_states as of the same moment: no state from after entry `low`.
    last_kept = docs[low - 1]["occurred_at"][:19]
    assert answers["q3"]["at"][:19] <= last_kept

    shown = bazaar("ask", "q1", "--lake", str(lake))
    assert shown.returncode == 0
    assert f"lake as of event position {low:,} (all tables)" in shown.stdout

    report = tmp_path / "report.html"
    made = bazaar("report", "--lake", str(lake), "--out", str(report))
    assert made.returncode == 0, made.stderr
    html = report.read_text("utf-8")
    assert f"lake as of event position {low:,} (all tables)" in html
    assert "tables differ" in html

    # A rerun completes the tables that lag (only them), and the warning goes away.
    assert bazaar("ingest", "--store", url_of(trader), "--lake", str(lake)).returncode == 0
    assert_lake_equals_outbox(lake, docs)
    again = ask_json(lake, "q1")
    assert again["lake"]["position"] == len(docs) and again["lake"]["warning"] is None
    assert again["q1"]["trades"] == accepted_up_to(docs, len(docs))


_FOLLOWER = textwrap.dedent(
    """
    import logging, os, sys, time
    from bazaar.domain.catalog import load_catalog
    from bazaar.lake.follower import LakeFollower
    from bazaar.lake.rust_panics import silence_rust_panics
    from bazaar.store.sqlite import SQLiteStore

    silence_rust_panics()  # as `bazaar serve --lake` does
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", level=logging.INFO)
    db, lake, go = sys.argv[1:4]
    store = SQLiteStore(db, load_catalog())
    follower = LakeFollower(store, lake, flush_seconds=0.05, retry_seconds=0.2).start()
    deadline = time.monotonic() + 60
    while follower.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    print("failed" if follower.error is not None else "never failed", flush=True)
    while not os.path.exists(go):
        time.sleep(0.05)
    head = store.outbox_head()
    while follower.landed_seq() < head and time.monotonic() < deadline:
        time.sleep(0.05)
    print("landed", follower.landed_seq(), head, flush=True)
    follower.stop()
    """
)


@pytest.mark.parametrize("small_disk", [160 * 1024], indirect=True)  # fills in one batch
def test_follower_reports_a_full_disk_once_and_resumes_when_space_is_freed(
    trader: Trader, small_disk: SmallDisk, tmp_path: Path
) -> None:
    trader.trade(3000)
    docs = outbox(trader.store)
    go = tmp_path / "space-freed"
    assert isinstance(trader.store, SQLiteStore)
    follower = subprocess.Popen(
        [sys.executable, "-c", _FOLLOWER, str(trader.store.path), str(small_disk.lake), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUST_BACKTRACE": "1"},
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().strip() == "failed"
        small_disk.free()
        go.touch()
        out, err = follower.communicate(timeout=120)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert out.split() == ["landed", str(len(docs)), str(len(docs))]
    errors = [line for line in err.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, err
    assert "lake write failed" in errors[0] and "retrying every 0.2 s" in errors[0]
    assert "landing again" in err
    assert not [w for w in RUST_NOISE if w in err], err
    assert_lake_equals_outbox(small_disk.lake, docs)


def test_kafka_ingest_on_a_full_disk_fails_in_one_line_and_reads_stay_consistent(
    kafka_broker: Any, trader: Trader, small_disk: SmallDisk
) -> None:
    from tests.integration.test_lake_kafka import ingest_cmd, make_topic, publish, relay

    trader.trade(3000)
    docs = outbox(trader.store)
    topic = f"full-disk-{uuid.uuid4().hex[:6]}"
    make_topic(kafka_broker.bootstrap, topic, 3)
    publish(kafka_broker.bootstrap, topic, relay(trader.store))
    command = ingest_cmd(kafka_broker.bootstrap, topic, small_disk.lake, "--quiet")
    env = {**os.environ, "RUST_BACKTRACE": "1"}
    full = subprocess.run(
        [*command, "--flush-events", "500"], capture_output=True, text=True, timeout=180, env=env
    )
    assert full.returncode != 0
    errors = [line for line in full.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, full.stderr
    assert errors[0].startswith("error: lake write failed: no space left on device")
    assert not [w for w in RUST_NOISE if w in full.stderr], full.stderr

    # One position per partition; every table read at them.
    partial = ask_json(small_disk.lake, "q1")["lake"]
    assert set(partial["positions"]) <= {f"kafka:{topic}:{p}" for p in range(3)}
    for reached in partial["tables"].values():
        assert all(reached[s] >= p for s, p in partial["positions"].items())

    small_disk.free()
    rerun = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert_lake_equals_outbox(small_disk.lake, docs)
    whole = ask_json(small_disk.lake, "q1")
    assert whole["lake"]["consistent"] is True
    assert whole["q1"]["trades"] == accepted_up_to(docs, len(docs))
    assert (
        "lake as of event positions kafka:"
        in bazaar("ask", "q1", "--lake", str(small_disk.lake)).stdout
    )
