"""`--log-format json`: every line a long-running command writes to its log is one JSON
object, and a request's lines carry the id its answer returned. `--metrics-port` on ingest
answers a Prometheus scrape with what it has landed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bazaar.cli.common import free_port


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "bazaar", *args],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in 30 s")


def test_serve_logs_one_json_object_per_line_with_request_ids(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    proc = _start(
        ["serve", "--store", f"sqlite:///{tmp_path}/s.db", "--port", str(port),
         "--workers", "2", "--log-format", "json", "--log-level", "info"],
        log,
    )  # fmt: skip
    try:
        _wait_http(f"http://127.0.0.1:{port}/health")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/players", json={}, headers={"X-Request-ID": "req-7"}
        )
        assert answer.headers["x-request-id"] == "req-7"
        time.sleep(0.3)
    finally:
        _stop(proc)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    events = [json.loads(line) for line in lines]  # every line, banner included
    assert all({"ts", "level", "logger", "event"} <= set(e) for e in events)
    assert any("serving on http://127.0.0.1" in e["event"] for e in events)
    mine = [e for e in events if e.get("request_id") == "req-7"]
    assert mine and mine[0]["route"] == "/players" and mine[0]["status"] == 201
    assert any(e["logger"].startswith("uvicorn") for e in events), "uvicorn's lines too"


def test_ingest_serves_its_metrics(tmp_path: Path) -> None:
    from bazaar.domain.catalog import load_catalog
    from bazaar.domain.model import NewPlayer
    from bazaar.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "i.db", load_catalog())
    for _ in range(3):
        store.create_player(NewPlayer("farmer"))
    store.close()
    port = free_port()
    proc = _start(
        ["ingest", "--store", f"sqlite:///{tmp_path}/i.db", "--lake", str(tmp_path / "lake"),
         "--follow", "--metrics-port", str(port), "--log-format", "json"],
        tmp_path / "ingest.log",
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        _wait_http(url)
        deadline = time.monotonic() + 20
        while True:
            found = {
                (s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(httpx.get(url).text)
                for s in family.samples
            }
            if found.get(("bazaar_ingest_events_total", ())) == 3 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        _stop(proc)
    assert found[("bazaar_ingest_events_total", ())] == 3
    assert found[("bazaar_ingest_rows_total", (("table", "players"),))] == 3
    assert found[("bazaar_ingest_position", (("source", "outbox"),))] == 3
