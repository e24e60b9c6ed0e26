"""`bazaar report`: every question and detector as one self-contained HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path

from bazaar.cli.ask import (
    add_analytics_flags,
    lake_of,
    options_from,
    warn_if_tables_differ,
    warn_outside_lake,
)
from bazaar.cli.common import add_command, console, fail


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "report",
        summary="write an HTML report of every question, insight and exploit check",
        description=(
            "Answer every question on the lake and write one HTML file: the economy over "
            "time (activity, rejections by reason, money supply, faucets and sinks, prices "
            "per item) in time buckets fitted to the run, the breakdown by player class, "
            "exploit evidence, and a section per suspect and top trader with its holdings "
            "over time. Its charts' JavaScript (plotly.js) is inside the file, so it opens "
            "offline and loads nothing from another host."
        ),
        example="bazaar report --lake bazaar-data/lake --out report.html",
    )
    add_analytics_flags(p)
    p.add_argument("--out", default="report.html", help="output file (default report.html)")
    p.add_argument(
        "--api", metavar="URL",
        help="trade API URL: link each suspect's evidence trades to URL/trades/ID",
    )  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bazaar.analytics.economy import economy
    from bazaar.analytics.engines import open_engine
    from bazaar.analytics.questions import ask
    from bazaar.analytics.report import render_report
    from bazaar.domain.catalog import load_catalog
    from bazaar.domain.errors import BazaarError

    lake = lake_of(args)
    try:
        options = options_from(args)
        engine = open_engine(
            args.engine, lake, catalog=load_catalog(args.catalog), spark_master=args.spark_master
        )
        try:
            warn_outside_lake(engine, options)
            answers = ask(engine, ["all"], options)
            series = economy(engine, options, answers)
        finally:
            engine.close()
    except BazaarError as exc:
        fail(exc.detail)
    warn_if_tables_differ(engine.snapshot)
    html = render_report(
        answers,
        lake=lake,
        engine=args.engine,
        at=args.at,
        economy=series,
        api=args.api,
        position=engine.snapshot.describe(),
        warning=engine.snapshot.warning(),
    )
    try:
        Path(args.out).write_text(html, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {args.out}: {exc.strerror or exc}")
    console.print(f"report written to {args.out} ({len(html) // 1024} KiB)")
    return 0
