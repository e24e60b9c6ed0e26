"""`bazaar simulate`: a living economy of players trading, over HTTP or in-process."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from bazaar.cli.common import add_command, add_store_flags, console, fail, out

if TYPE_CHECKING:
    from bazaar.store.base import Store


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "simulate",
        summary="simulate players trading (load test with labelled exploiters)",
        description=(
            "Create N players (classes drawn by the catalog's weights) and drive M trades:"
            " fair-value swaps with haggling noise, purchases and sales for gold, class"
            " preferences, a few busy traders, occasional mistakes the server rejects, and"
            " with --exploiters K, K labelled groups of bad actors of each kind, group n"
            " playing the kind's variant n: gold funnels (small_gifts, large_gifts,"
            " mule_tree, overpaid, partial_return), wash trading (pair, ring of 3-5, split,"
            " varying) and lopsided trading (moderate, extreme_spread); --truth names every"
            " participant and its role. Honest residents also live off the game: after"
            " --grant-rate of their trades they get a quest reward or loot (grants) or pay"
            " for a repair or crafting (consumptions), and --offer-rate of their trades go"
            " through an escrowed offer (mostly accepted, some declined, some countered by"
            " the addressee and then accepted or declined); 0 turns either off. Over HTTP"
            " these need a server key when the API has auth on (--api-key-file)."
            " The same --seed sends the same request sequence."
            " Ctrl-C stops cleanly and prints the summary."
        ),
        example="bazaar simulate --api http://127.0.0.1:8000 --players 1000 --trades 10000"
        " --concurrency 64 --exploiters 2 --grant-rate 0.1 --offer-rate 0.2 --truth truth.json",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--api", metavar="URL", help="the trade API, e.g. http://127.0.0.1:8000")
    target.add_argument(
        "--in-process",
        action="store_true",
        help="call the store directly (no HTTP), for generating data fast; see --store",
    )
    add_store_flags(p)
    p.add_argument("--players", type=int, default=1000, metavar="N", help="default 1000")
    p.add_argument("--trades", type=int, default=10_000, metavar="M", help="default 10000")
    p.add_argument(
        "--concurrency", type=int, default=64, metavar="C", help="requests in flight (HTTP)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S", help="default 0")
    p.add_argument("--rate", type=float, metavar="R", help="at most R trades/s (HTTP)")
    p.add_argument(
        "--exploiters", type=int, default=0, metavar="K",
        help="groups of bad actors of each kind; group n plays the kind's variant n (cycling)",
    )  # fmt: skip
    p.add_argument(
        "--exploit-kinds", default="all", metavar="KINDS",
        help="kinds (gold_funnel, wash_trading, lopsided_trader; or funnel, wash, lopsided) or"
        " KIND:VARIANT, comma separated, e.g. funnel:mule_tree,wash (default all)",
    )  # fmt: skip
    p.add_argument(
        "--grant-rate", type=float, default=0.1, metavar="G",
        help="share of honest trades followed by a quest reward, loot, repair or crafting"
        " cost (default 0.1; 0: none)",
    )  # fmt: skip
    p.add_argument(
        "--offer-rate", type=float, default=0.2, metavar="O",
        help="share of honest trades made through an escrowed offer, with declines and"
        " counter-offers (default 0.2; 0: none)",
    )  # fmt: skip
    p.add_argument(
        "--api-key-file", type=Path, metavar="PATH",
        help="file holding a server key (its first line), for an API with auth on",
    )  # fmt: skip
    p.add_argument("--truth", type=Path, metavar="PATH", help="write who the exploiters are")
    p.add_argument("--summary-json", type=Path, metavar="PATH", help="write the summary as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bazaar.simulate.driver import run_simulation
    from bazaar.simulate.exploits import parse_exploit_kinds
    from bazaar.simulate.plan import SimulationPlan
    from bazaar.simulate.progress import LiveProgress, summary_table
    from bazaar.simulate.stats import SimulationError

    if args.api is not None and (args.store or args.catalog):
        fail("--store and --catalog go with --in-process; over HTTP the API owns them")
    if args.api is not None and not args.api.startswith(("http://", "https://")):
        fail(f"--api must be an http:// or https:// URL, got {args.api!r}")
    if args.concurrency < 1:
        fail("--concurrency must be at least 1")
    try:
        plan = SimulationPlan(
            players=args.players, trades=args.trades, seed=args.seed, exploiters=args.exploiters,
            exploit_kinds=parse_exploit_kinds(args.exploit_kinds),
            grant_rate=args.grant_rate, offer_rate=args.offer_rate,
        )  # fmt: skip
    except ValueError as exc:
        fail(str(exc))
    api_key = _read_api_key(args.api_key_file) if args.api_key_file is not None else None
    target: str | Store = args.api if args.api is not None else _open_store(args)
    stop = threading.Event()
    previous = _stop_on_ctrl_c(stop)
    try:
        with LiveProgress(console, players=plan.players, trades=plan.trades) as live:
            summary = run_simulation(
                target, plan, concurrency=args.concurrency, rate=args.rate, progress=live.update,
                stop=stop, api_key=api_key,
            )  # fmt: skip
    except (SimulationError, ValueError) as exc:
        fail(str(exc), code=1)
    finally:
        signal.signal(signal.SIGINT, previous)
        if not isinstance(target, str):
            target.close()
    out.print(summary_table(summary))
    if args.truth is not None and summary.truth:
        args.truth.parent.mkdir(parents=True, exist_ok=True)
        args.truth.write_text(json.dumps(summary.truth, indent=2) + "\n", "utf-8")
        console.print(f"exploiters' truth written to [bold]{args.truth}[/]")
    if args.summary_json is not None:
        args.summary_json.write_text(json.dumps(summary.to_document(), indent=2) + "\n", "utf-8")
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def _read_api_key(path: Path) -> str:
    try:
        lines = path.read_text("utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read the server key from {path}: {exc}")
    if not lines:
        fail(f"{path} holds no server key")
    return lines[0]


def _open_store(args: argparse.Namespace) -> Store:
    from bazaar.bootstrap import open_store
    from bazaar.config import Settings
    from bazaar.domain.catalog import load_catalog
    from bazaar.domain.errors import BazaarError

    settings = Settings.from_environ().override(store=args.store, catalog=args.catalog)
    try:
        return open_store(settings.store, load_catalog(settings.catalog))
    except (BazaarError, ValueError) as exc:
        fail(str(exc))


def _stop_on_ctrl_c(stop: threading.Event) -> signal._HANDLER:
    """First Ctrl-C: finish what is in flight and summarise. Second: stop at once."""
    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print("[yellow]stopping: waiting for trades in flight (Ctrl-C again quits)[/]")

    signal.signal(signal.SIGINT, on_interrupt)
    return previous
