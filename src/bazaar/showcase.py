"""The whole pipeline in one process: API -> store + outbox -> lake -> answers -> report.

`run_showcase` is what `bazaar demo` runs: it starts the API on a free port with the
embedded store and the lake follower, drives a simulated economy (with labelled exploiters)
through HTTP, waits until the lake has every event, answers the business questions, runs
the exploit detectors, checks them against the simulator's truth, and writes the report.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bazaar.analytics.asking import AskOptions
from bazaar.analytics.economy import economy
from bazaar.analytics.engines import open_engine
from bazaar.analytics.exploits import BEHAVIOUR_DETECTORS, KIND_OF_DETECTOR
from bazaar.analytics.questions import ask
from bazaar.analytics.report import render_report
from bazaar.analytics.scoring import score_detections
from bazaar.api.embedded import EmbeddedServer
from bazaar.domain.catalog import load_catalog
from bazaar.lake.follower import LakeFollower
from bazaar.simulate.driver import run_simulation
from bazaar.simulate.plan import SimulationPlan
from bazaar.simulate.stats import Progress, SimulationSummary
from bazaar.store.expiry import ExpirySweeper
from bazaar.store.sqlite import SQLiteStore

# Which detector should name which labelled exploiter (by its kind, in every role).
DETECTOR_FOR_KIND = {kind: detector for detector, kind in KIND_OF_DETECTOR.items()}


@dataclass(frozen=True, slots=True)
class ShowcasePaths:
    root: Path

    @property
    def store(self) -> Path:
        return self.root / "demo.db"

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def truth(self) -> Path:
        return self.root / "truth.json"


@dataclass(slots=True)
class ShowcaseResult:
    paths: ShowcasePaths
    url: str
    simulation: SimulationSummary
    answers: dict[str, Any]
    caught: list[dict[str, Any]]  # each labelled exploiter with its detector and verdict
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase
    lake_events: int = 0

    @property
    def all_caught(self) -> bool:
        return all(c["caught"] for c in self.caught)

    @property
    def honest_flagged(self) -> list[int]:
        labelled = {e["player_id"] for e in self.simulation.truth.get("exploiters", [])}
        flagged = {
            s["player_id"]
            for name in BEHAVIOUR_DETECTORS
            for s in self.answers["exploits"][name]["suspects"]
        }
        return sorted(flagged - labelled)


def check_detections(truth: Mapping[str, Any], exploits: Mapping[str, Any]) -> list[dict[str, Any]]:
    """For every labelled exploiter: did its kind's detector name it (in the right role)?"""
    named: dict[str, dict[int, set[str]]] = {}
    for name, detector in exploits.items():
        if isinstance(detector, Mapping) and "suspects" in detector:
            for s in detector["suspects"]:
                named.setdefault(name, {}).setdefault(s["player_id"], set()).add(s.get("role"))
    verdicts = []
    for exploiter in truth.get("exploiters", []):
        detector = DETECTOR_FOR_KIND.get(exploiter["kind"])
        if detector is None:
            continue
        roles = named.get(detector, {}).get(exploiter["player_id"])
        verdicts.append(
            {
                **exploiter,
                "detector": detector,
                "caught": roles is not None,
                "found_as": ", ".join(sorted(r for r in roles if r)) if roles else "",
            }
        )
    return verdicts


@contextmanager
def _phase(phases: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = time.perf_counter() - started


def run_showcase(
    root: Path,
    port: int,
    plan: SimulationPlan,
    *,
    concurrency: int = 64,
    progress: Progress | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ShowcaseResult:
    """Run the pipeline end to end under `root` (emptied first: the demo owns it)."""
    paths = ShowcasePaths(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    phases: dict[str, float] = {}
    say = on_phase or (lambda _: None)
    catalog = load_catalog()
    store = SQLiteStore(paths.store, catalog)
    try:
        follower = LakeFollower(store, paths.lake).start()
        try:
            # As `bazaar serve` does: offers expire on time, on a store of the sweeper's own.
            sweeper_store = SQLiteStore(paths.store, catalog)
            expiry = ExpirySweeper(sweeper_store).start()
            try:
                with EmbeddedServer(store, port, lake=str(paths.lake)) as url:
                    say(f"API on {url}, lake follower on {paths.lake}")
                    say(f"live dashboard while it runs: {url}/dashboard")
                    with _phase(phases, "simulate (HTTP)"):
                        simulation = run_simulation(url, plan, concurrency=concurrency,
                                                    progress=progress)  # fmt: skip
            finally:
                expiry.stop()
                sweeper_store.close()
            say("waiting for the lake to hold every event")
            with _phase(phases, "lake catch-up"):
                head = store.outbox_head()
                if not follower.wait_for(head, timeout=120):
                    raise RuntimeError(f"the lake did not reach outbox seq {head} in 120 s")
        finally:
            ingest = follower.stop()
        say("asking the lake")
        with _phase(phases, "answer questions"):
            engine = open_engine("duckdb", paths.lake, catalog=catalog)
            answers = ask(engine, ["all"])
            if simulation.truth:
                # As `bazaar ask exploits --truth truth.json` reports it.
                answers["exploits"]["against_truth"] = score_detections(
                    simulation.truth, answers["exploits"]
                )
        with _phase(phases, "write report"):
            series = economy(engine, AskOptions(), answers)
            engine.close()
            html = render_report(
                answers, lake=str(paths.lake), engine="duckdb", at=None, economy=series
            )
            paths.report.write_text(html, "utf-8")
            paths.truth.write_text(json.dumps(simulation.truth, indent=2) + "\n", "utf-8")
    finally:
        store.close()
    return ShowcaseResult(
        paths=paths,
        url=url,
        simulation=simulation,
        answers=answers,
        caught=check_detections(simulation.truth, answers["exploits"]),
        phases=phases,
        lake_events=ingest.events,
    )
