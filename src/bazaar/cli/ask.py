"""`bazaar ask`: answer business questions, insights and exploit checks from the lake."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from bazaar.analytics.thresholds import threshold_flags
from bazaar.cli.common import add_command, console, fail, out
from bazaar.config import DEFAULT_DATA_DIR, Settings

DEFAULT_LAKE = str(DEFAULT_DATA_DIR / "lake")


def add_analytics_flags(p: argparse.ArgumentParser) -> None:
    """Flags `ask` and `report` share."""
    p.add_argument("--lake", metavar="PATH", help=f"lake root (default {DEFAULT_LAKE})")
    p.add_argument(
        "--engine", choices=("duckdb", "spark"), default="duckdb", help="SQL engine (duckdb)"
    )
    p.add_argument("--spark-master", metavar="URL", help="Spark master (default local[*])")
    p.add_argument("--catalog", metavar="PATH", help="catalog JSON file (default: built-in)")
    p.add_argument(
        "--at",
        metavar="TIMESTAMP",
        help="answer as of this instant (ISO-8601, e.g. 2026-05-01T12:00:00Z; default: ever)",
    )
    p.add_argument("--limit", type=int, default=10, help="rows in top lists (default 10)")
    p.add_argument("--buckets", type=int, default=12, help="moments in time series (12)")
    knobs = p.add_argument_group(
        "exploit thresholds", "defaults chosen by benchmarks/detectors.py (docs/BENCHMARKS.md)"
    )
    # Flags of earlier releases, kept as aliases.
    aliases = {"--transfer-ratio": ["--lopsided-ratio"], "--wash-window-seconds": ["--wash-window"]}
    for flag, kind, default, text in threshold_flags():
        knobs.add_argument(
            flag, *aliases.get(flag, []), type=kind, default=default, metavar="N",
            help=f"{text} (default {default})",
        )  # fmt: skip


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "ask",
        summary="answer business questions, economy insights and exploit checks from the lake",
        description=(
            "Questions: q1 (trades), q2 (most traded item), q3 (most diverse inventory), "
            "q4 (most valuable inventory), trades_per_hour, item_velocity, wealth_gini, "
            "top_traders, trade_graph, prices (market prices: median gold per unit sold), "
            "exploits; or all (the default). --at T answers as of instant T: counts up to T, "
            "and q3/q4 over each player's latest state at T. With --truth FILE (what "
            "`bazaar simulate --truth` writes), exploits also prints the detectors' precision "
            "and recall per kind and overall against it. Every table is read as of the same "
            "event position (the lake's watermark, the lowest all tables have reached); the "
            "output names it, and a warning says when tables differ (e.g. ingest stopped "
            "between two tables' commits)."
        ),
        example="bazaar ask exploits --lake bazaar-data/lake --truth truth.json",
    )
    p.add_argument("questions", nargs="*", metavar="QUESTION", help="question ids, or all")
    add_analytics_flags(p)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output")
    p.add_argument(
        "--truth", type=Path, metavar="FILE",
        help="score the exploit detectors against this truth file (precision, recall)",
    )  # fmt: skip
    p.set_defaults(func=run)


def lake_of(args: argparse.Namespace) -> str:
    return str(args.lake or Settings.from_environ().lake or DEFAULT_LAKE)


def options_from(args: argparse.Namespace) -> Any:
    from bazaar.analytics.asking import AskOptions, parse_at
    from bazaar.analytics.thresholds import ExploitThresholds

    return AskOptions(
        at=parse_at(args.at) if args.at else None,
        limit=max(1, args.limit),
        buckets=max(1, args.buckets),
        thresholds=ExploitThresholds(
            **{f.name: getattr(args, f.name) for f in fields(ExploitThresholds)}
        ),
    )


def warn_outside_lake(engine: Any, options: Any) -> None:
    """`--at` before the lake's first event answers nothing; after its last, the same as no
    `--at`: both are usually a typo or a wrong lake, so say so (on stderr)."""
    if options.at is None:
        return
    from bazaar.analytics.economy import lake_span
    from bazaar.analytics.timebuckets import instant
    from bazaar.domain.clock import micros

    span = lake_span(engine)
    at = micros(options.at)
    if span is None:
        console.print("[yellow]warning:[/] the lake holds no events yet: every answer is empty")
    elif at < span[0]:
        console.print(
            f"[yellow]warning:[/] --at is before the lake's first event ({instant(span[0])} "
            "UTC): every answer is empty"
        )
    elif at > span[1]:
        console.print(
            f"[yellow]warning:[/] --at is after the lake's last event ({instant(span[1])} "
            "UTC): the answers equal those without --at"
        )


def run(args: argparse.Namespace) -> int:
    from bazaar.analytics.engines import open_engine
    from bazaar.analytics.questions import ask, resolve
    from bazaar.domain.catalog import load_catalog
    from bazaar.domain.errors import BazaarError

    try:
        names = resolve(args.questions)
        options = options_from(args)
        truth = None
        if args.truth is not None:
            from bazaar.analytics.scoring import load_truth

            truth = load_truth(args.truth)
            if "exploits" not in names:
                names.append("exploits")
        engine = open_engine(
            args.engine,
            lake_of(args),
            catalog=load_catalog(args.catalog),
            spark_master=args.spark_master,
        )
        try:
            warn_outside_lake(engine, options)
            answers = ask(engine, names, options)
        finally:
            engine.close()
        if truth is not None:
            from bazaar.analytics.scoring import score_detections

            answers["exploits"]["against_truth"] = score_detections(truth, answers["exploits"])
    except BazaarError as exc:
        fail(exc.detail)
    snapshot = engine.snapshot
    warn_if_tables_differ(snapshot)
    if args.format == "json":
        print(json.dumps({**answers, "lake": snapshot.to_json()}))
        return 0
    from bazaar.analytics.render import print_answers

    print_answers(out, answers)
    out.print(f"[dim]{snapshot.describe()}[/]")
    return 0


def warn_if_tables_differ(snapshot: Any) -> None:
    """On stderr (stdout stays parseable): the tables had reached different positions, so
    the answers are as of the lowest one (`ask` and `report`)."""
    warning = snapshot.warning()
    if warning is not None:
        console.print(f"[bold yellow]warning:[/] {warning}", soft_wrap=True)
