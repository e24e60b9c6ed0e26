"""`bazaar demo`: the whole story on embedded defaults, no servers to install."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.table import Table

from bazaar.cli.common import (
    add_command,
    console,
    fail,
    free_port,
    out,
    quiet_rust_panics,
    stop_on_signals,
)
from bazaar.config import DEFAULT_DATA_DIR
from bazaar.telemetry.logs import add_log_flags, configure_logging


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "demo",
        summary="run the whole pipeline end to end on embedded defaults",
        description=(
            "Start the trade API on a free port with the embedded SQLite store and the lake"
            " follower, create players and drive a simulated economy through HTTP (with"
            " labelled exploiters, and honest players who earn quest rewards and loot, pay for"
            " repairs and crafting, and trade through escrowed offers with counter-offers),"
            " wait until the Delta lake holds every event, answer the"
            " four business questions and the economy's (faucets and sinks, money supply,"
            " offer funnel), run the exploit detectors (and say whether each"
            " labelled exploiter was caught), and write an HTML report. Everything goes under"
            " DATA_DIR/demo/, which the demo empties first."
        ),
        example="bazaar demo --players 1000 --trades 10000",
    )
    p.add_argument("--players", type=int, default=1000, help="default 1000")
    p.add_argument("--trades", type=int, default=10_000, help="default 10000")
    p.add_argument("--exploiters", type=int, default=1,
                   help="groups of bad actors per kind, n-th plays variant n (1)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="default 0")
    p.add_argument(
        "--grant-rate",
        type=float,
        default=0.1,
        metavar="G",
        help="share of honest trades followed by a grant or consumption (0.1)",
    )
    p.add_argument("--offer-rate", type=float, default=0.2, metavar="O",
                   help="share of honest trades made through an offer (0.2)")  # fmt: skip
    p.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                   help="default ./bazaar-data")  # fmt: skip
    p.add_argument("--port", type=int, help="API port (default: a free one)")
    p.add_argument(
        "--keep-serving",
        action="store_true",
        help="when done, keep the API and its live dashboard (/dashboard) up until Ctrl-C",
    )
    add_log_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bazaar.analytics.render import print_answers
    from bazaar.domain.errors import BazaarError
    from bazaar.showcase import run_showcase
    from bazaar.simulate.plan import SimulationPlan
    from bazaar.simulate.progress import LiveProgress, summary_table

    try:
        plan = SimulationPlan(
            players=args.players, trades=args.trades, seed=args.seed, exploiters=args.exploiters,
            grant_rate=args.grant_rate, offer_rate=args.offer_rate,
        )  # fmt: skip
    except ValueError as exc:
        fail(str(exc))
    configure_logging(args.log_format or "text", args.log_level or "warning")
    quiet_rust_panics()
    root = args.data_dir / "demo"
    console.print(
        f"[bold]bazaar demo[/]: {plan.players:,} players and {plan.trades:,} trades through HTTP"
        " -> SQLite store + outbox -> Delta lake -> DuckDB answers -> report"
    )
    started = time.perf_counter()
    port = args.port or free_port()
    try:
        with LiveProgress(console, players=plan.players, trades=plan.trades) as live:
            result = run_showcase(
                root, port, plan, concurrency=args.concurrency,
                progress=live.update, on_phase=lambda text: console.print(f"[dim]{text}[/]"),
            )  # fmt: skip
    except BazaarError as exc:  # e.g. the lake's disk filled up: one line, no traceback
        fail(exc.detail, code=1)
    total = time.perf_counter() - started
    out.print(summary_table(result.simulation))
    print_answers(out, {q: result.answers[q] for q in ("q1", "q2", "q3", "q4")})
    if "economy" in result.answers:
        _print_economy(result.answers["economy"])
    out.print(_detections(result.caught, result.honest_flagged))
    if "against_truth" in result.answers["exploits"]:
        from bazaar.analytics.evidence import truth_table

        out.print(truth_table(result.answers["exploits"]["against_truth"]))
    conserved = result.answers["exploits"]["conservation"]["conserved"]
    verdict = "[green]every item and gold piece accounted for[/]"
    if not conserved:
        verdict = "[red]DRIFT FOUND: see the report[/]"
    out.print(f"conservation audit: {verdict}")
    out.print(_where(result.paths, result.phases, total, result.lake_events))
    if args.keep_serving:
        _keep_serving(result.paths.store, result.paths.lake, port)
    return 0 if result.all_caught and conserved and result.simulation.server_errors == 0 else 1


def _print_economy(answer: object) -> None:
    """Faucets and sinks, the money supply, the offer funnel and escrow, as `bazaar ask
    economy` gives them (the series over time are in the report)."""
    from bazaar.analytics.render import answer_tables

    for table in answer_tables("economy", answer):
        if not str(table.title).endswith("over time"):
            out.print(table)
            out.print()


def _detections(caught: list[dict[str, object]], honest_flagged: list[int]) -> Table:
    table = Table(title="labelled exploiters vs the detectors", title_justify="left")
    for column in ("kind", "variant", "player", "role", "detector", "caught", "found as"):
        table.add_column(column)
    for c in caught:
        table.add_row(
            str(c["kind"]), str(c.get("variant", "")), f"{c['username']} (#{c['player_id']})",
            str(c["role"]), str(c["detector"]), "[green]yes[/]" if c["caught"] else "[red]NO[/]",
            str(c.get("found_as", "")),
        )  # fmt: skip
    flagged = ", ".join(f"#{p}" for p in honest_flagged) or "none"
    table.caption = f"honest players flagged: {flagged}"
    return table


def _where(paths: object, phases: dict[str, float], total: float, events: int) -> Table:
    from bazaar.showcase import ShowcasePaths

    assert isinstance(paths, ShowcasePaths)
    table = Table(title=f"done in {total:.1f} s ({events:,} events landed)",
                  title_justify="left", show_header=False)  # fmt: skip
    for phase, seconds in phases.items():
        table.add_row(f"phase: {phase}", f"{seconds:.1f} s")
    table.add_row("store", str(paths.store))
    table.add_row("lake", str(paths.lake))
    table.add_row("report", str(paths.report))
    table.add_row("exploiters' truth", str(paths.truth))
    table.add_row("ask more", f"bazaar ask all --lake {paths.lake}")
    table.add_row("serve it", f"bazaar serve --store sqlite:///{paths.store}")
    return table


def _keep_serving(store_path: Path, lake: Path, port: int) -> None:
    """The demo's store and lake, served again with the dashboard, until Ctrl-C/SIGTERM."""
    from bazaar.api.embedded import EmbeddedServer
    from bazaar.domain.catalog import load_catalog
    from bazaar.lake.follower import LakeFollower
    from bazaar.store.sqlite import SQLiteStore

    store = SQLiteStore(store_path, load_catalog())
    follower = LakeFollower(store, lake).start()
    try:
        with EmbeddedServer(store, port, lake=str(lake)) as url:
            stop = stop_on_signals()
            console.print(f"serving {url} (live dashboard: [bold]{url}/dashboard[/]); Ctrl-C stops")
            stop.wait()
    finally:
        follower.stop()
        store.close()
