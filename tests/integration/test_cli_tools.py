"""The operator's and analyst's CLI tools, run as a user runs them (the real `bazaar`
command in a subprocess, output piped) against real lakes and a real server: `keys new`,
`sql`, wide tables on a pipe, integers in JSON, `--at` outside the lake, the compaction
hint, and what `ingest` says while it works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bazaar.api.auth import hash_secret
from bazaar.bootstrap import open_store
from bazaar.domain.catalog import load_catalog
from bazaar.domain.clock import format_instant, parse_instant
from tests.support.lake_builder import accepted, ingest, player, trade
from tests.support.server import running_server

CATALOG = load_catalog()
LONG_NAME = "Bartholomew_Thistlewood_of_the_Far_Eastern_Marches"  # wider than 80 with columns


def bazaar(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # as a plain pipe
    return subprocess.run(
        [sys.executable, "-m", "bazaar", *args], input=stdin, capture_output=True, text=True,
        timeout=120, env=env, cwd=cwd,
    )  # fmt: skip


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A lake of two ingests (so tables have several files); returns it and trade instants."""
    root = tmp_path_factory.mktemp("cli")
    store = open_store(f"sqlite:///{root / 'b.db'}", CATALOG)
    a = player(store, "farmer", LONG_NAME).player_id
    b = player(store, "banker", "ben").player_id
    at = [accepted(trade(store, a, b, items_1=[(5, 2)], gold_2=7)).executed_at]
    ingest(store, root / "lake")
    at.append(accepted(trade(store, b, a, gold_1=3, items_2=[(5, 1)])).executed_at)
    ingest(store, root / "lake")
    store.close()
    return root / "lake", at


def test_keys_new_prints_a_key_once_that_the_server_accepts(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    first = bazaar("keys", "new", "--file", str(keys), "--comment", "game server eu-1")
    second = bazaar("keys", "new", "--file", str(keys))
    assert first.returncode == second.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert key.startswith("bzk_") and "\n" not in key and key != second.stdout.strip()
    assert "shown only now" in first.stderr
    lines = keys.read_text().splitlines()
    assert lines == ["# game server eu-1", f"sha256:{hash_secret(key)}",
                     f"sha256:{hash_secret(second.stdout.strip())}"]  # fmt: skip
    assert key not in keys.read_text() and (keys.stat().st_mode & 0o077) == 0
    with running_server(f"sqlite:///{tmp_path}/s.db", extra=["--api-key-file", str(keys)]) as api:
        assert httpx.post(f"{api}/players", json={}).status_code == 401
        made = httpx.post(f"{api}/players", json={}, headers={"Authorization": f"Bearer {key}"})
        assert made.status_code == 201, made.text
    unwritable = bazaar("keys", "new", "--file", str(tmp_path / "no" / "such" / "dir"))
    assert unwritable.returncode == 2 and "cannot append" in unwritable.stderr
    assert unwritable.stdout == "", "a key whose hash was not saved must not be shown"


def test_sql_runs_statements_on_the_lake_tables(lake: tuple[Path, list[str]]) -> None:
    root, _ = lake
    count = "SELECT count(*) AS trades, sum(player_2_gold) AS gold FROM trades"
    two = "SELECT name FROM items WHERE item_id = 5; SELECT ';' AS semi"
    found = bazaar("sql", "--lake", str(root), "--format", "json", "-c", count, "-c", two)
    assert found.returncode == 0, found.stderr
    assert [json.loads(line) for line in found.stdout.splitlines()] == [
        [{"trades": 2, "gold": 7}], [{"name": "Food Package"}], [{"semi": ";"}]]  # fmt: skip
    piped = bazaar("sql", "--lake", str(root), stdin=".tables\nSELECT username\n FROM players"
                   " ORDER BY player_id;\n")  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert "player_states" in piped.stdout and LONG_NAME in piped.stdout


def test_sql_errors_are_clear_with_exit_codes(lake: tuple[Path, list[str]], tmp_path: Path) -> None:
    root, _ = lake
    bad = bazaar("sql", "--lake", str(root), "-c", "SELEC 1", "-c", "SELECT 1")
    assert bad.returncode == 1 and "syntax error" in bad.stderr and bad.stdout == ""
    unknown = bazaar("sql", "--lake", str(root), stdin="SELECT 1;\nSELECT * FROM nope;\nSELECT 2;")
    assert unknown.returncode == 1 and "nope does not exist" in unknown.stderr
    assert unknown.stdout.count("┃") and "2 │" not in unknown.stdout  # stopped at the error
    missing = bazaar("sql", "--lake", str(tmp_path / "nowhere"), "-c", "SELECT 1")
    assert missing.returncode == 2 and "no lake" in missing.stderr


def test_piped_tables_are_not_cut_and_json_keeps_integers(lake: tuple[Path, list[str]]) -> None:
    root, _ = lake
    shown = bazaar("ask", "top_traders", "--lake", str(root))
    assert shown.returncode == 0, shown.stderr
    assert LONG_NAME in shown.stdout and "…" not in shown.stdout
    assert max(len(line) for line in shown.stdout.splitlines()) > 80
    gini = json.loads(bazaar("ask", "wealth_gini", "--lake", str(root), "--format", "json").stdout)
    for moment in gini["wealth_gini"]:
        assert isinstance(moment["gold"], int) and isinstance(moment["items_value"], int)


def test_at_outside_the_lake_warns(lake: tuple[Path, list[str]]) -> None:
    root, at = lake
    first, last = parse_instant(at[0]), parse_instant(at[-1])
    before = format_instant(first - timedelta(days=1))
    after = format_instant(last + timedelta(days=1))
    early = bazaar("ask", "q1", "--lake", str(root), "--at", before)
    late = bazaar("ask", "q1", "--lake", str(root), "--at", after)
    inside = bazaar("ask", "q1", "--lake", str(root), "--at", at[0])
    assert early.returncode == late.returncode == inside.returncode == 0
    assert "before the lake's first event" in early.stderr and "empty" in early.stderr
    assert "after the lake's last event" in late.stderr
    assert "warning" not in inside.stderr


def test_compact_suggests_vacuum(lake: tuple[Path, list[str]], tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "lake"
    shutil.copytree(lake[0], root)
    done = bazaar("lake", "compact", "--lake", str(root))
    assert done.returncode == 0, done.stderr
    assert f"bazaar lake vacuum --lake {root}" in done.stderr


def test_ingest_says_what_it_waits_for_with_rate_and_lag(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'b.db'}", CATALOG)
    a = player(store, "farmer", "ann").player_id
    b = player(store, "banker", "ben").player_id
    for _ in range(3):
        accepted(trade(store, a, b, gold_1=1))
    store.close()
    log = tmp_path / "ingest.err"
    with log.open("w") as stderr:
        follow = subprocess.Popen(
            [sys.executable, "-m", "bazaar", "ingest", "--store", f"sqlite:///{tmp_path / 'b.db'}",
             "--lake", str(tmp_path / "lake"), "--follow"],
            stdout=subprocess.DEVNULL, stderr=stderr, text=True,
            env={k: v for k, v in os.environ.items() if k != "COLUMNS"},
        )  # fmt: skip
        try:
            # one landing, then 5 s with nothing new: wait for the notice rather than a fixed
            # time, which a loaded machine's slow start would outrun
            deadline = time.monotonic() + 90
            while "waiting for new events" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            follow.send_signal(signal.SIGTERM)
            follow.wait(timeout=60)
    err = log.read_text()
    assert follow.returncode == 0, err
    assert "5 events landed, now " in err and "/s, lag 0 events (caught up)" in err
    assert "caught up; following new events" in err
    assert "waiting for new events" in err
