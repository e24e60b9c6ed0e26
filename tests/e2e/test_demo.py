"""`bazaar demo` end to end, as a new user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _rows(out: str, title: str) -> dict[str, int]:
    """The numeric rows of the two-column table printed under `title`."""
    rows: dict[str, int] = {}
    for line in out.split(title, 1)[1].split("\n\n", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 2 and cells[1].replace(",", "").lstrip("-").isdigit():
            rows[cells[0]] = int(cells[1].replace(",", ""))
    return rows


def test_demo_runs_the_whole_pipeline(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bazaar", "demo", "--players", "50", "--trades", "500"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for heading in ("q1: How many trades", "q2:", "q3:", "q4:", "labelled exploiters"):
        assert heading in out
    assert "every item and gold piece accounted for" in out  # supply = creations + grants ...
    # A living economy: honest players got quest rewards and loot, paid for repairs and
    # crafting, and traded through offers, and the lake counts the same.
    summary = _rows(out, "simulation summary")
    for row in ("grants", "consumptions", "offers created", "offers accepted",
                "offers declined", "offers countered", "offers expired"):  # fmt: skip
        assert summary.get(row, 0) > 0, row
    supply = _rows(out, "economy / money supply (gold)")
    assert supply["granted"] > 0 and supply["consumed"] > 0
    assert supply["supply"] == supply["created"] + supply["granted"] - supply["consumed"]
    funnel = _rows(out, "economy / offer funnel")
    for stage, row in (("created", "offers created"), ("accepted", "offers accepted"),
                       ("declined", "offers declined"), ("countered", "offers countered"),
                       ("expired", "offers expired")):  # fmt: skip
        assert funnel[stage] == summary[row], stage
    assert funnel["open"] == 0
    assert " NO " not in out, "a labelled exploiter went undetected"
    assert "honest players flagged:" in out
    root = tmp_path / "bazaar-data" / "demo"
    report = (root / "report.html").read_text()
    assert report.startswith("<!doctype html>") and "q4" in report
    assert "<script src=" not in report, "the report must open without a network"
    offers = report.split("id=offers>")[1].split("<h2")[0]
    created = f"{funnel['created']:,} offers created (counter-offers included)"
    assert created in offers and f"<td>expired</td><td class=n>{funnel['expired']}</td>" in offers
    truth = json.loads((root / "truth.json").read_text())
    assert {e["kind"] for e in truth["exploiters"]} == {
        "gold_funnel",
        "wash_trading",
        "lopsided_trader",
    }
    # Lake answers equal the store: q1 is the store's accepted count.
    accepted = int(out.split("accepted")[1].split("│")[1].strip().replace(",", ""))
    assert f"trades         │ {accepted:>8,}" in out or f"{accepted:,}" in out.split("q1:")[1]


def test_demo_logs_one_json_object_per_line_when_asked(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bazaar", "demo", "--players", "30", "--trades", "200",
         "--log-format", "json", "--log-level", "info"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    requests = [entry for entry in logged if entry["logger"] == "bazaar.access"]
    # Every request the simulated players made, each with its id, as a log shipper reads it.
    assert len(requests) >= 230, len(requests)
    assert all(entry["request_id"] and entry["level"] == "info" for entry in requests)
    assert {entry["route"] for entry in requests} >= {"/players", "/trades"}
