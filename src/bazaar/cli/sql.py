"""`bazaar sql`: a DuckDB prompt over the lake, with every lake table and the catalog's
`items` registered exactly as the questions see them (analytics/engines.py)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from bazaar.cli.ask import lake_of
from bazaar.cli.common import add_command, console, fail, out

DEFAULT_MAX_ROWS = 100
_HELP = """statements end with `;` (a statement may span lines). Dot commands:
  .tables          the lake's tables with their row counts
  .schema TABLE    a table's columns and types
  .format table|json   how results are shown
  .help  .quit (or Ctrl-D)"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = add_command(
        sub,
        "sql",
        summary="run SQL on the lake with DuckDB: an interactive prompt, or -c STATEMENT",
        description=(
            "Open the lake with DuckDB, register its tables (players, trades, trade_items, "
            "rejected_trades, player_states, holdings; docs/LAKE.md) and the catalog as "
            "`items`, then run the statements given with -c (in order; exit 1 at the first "
            "that fails), or those read from a pipe, or prompt for them. Times are UTC."
        ),
        example=(
            'bazaar sql --lake bazaar-data/lake -c "SELECT reason, count(*) FROM '
            'rejected_trades GROUP BY 1"'
        ),
    )
    p.add_argument("--lake", metavar="PATH", help="lake root (default bazaar-data/lake)")
    p.add_argument("--catalog", metavar="PATH", help="catalog JSON file (default: built-in)")
    p.add_argument(
        "-c",
        "--command",
        action="append",
        metavar="SQL",
        help="run this statement and exit (repeatable)",
    )
    p.add_argument("--format", choices=("table", "json"), default="table", help="output")
    p.add_argument(
        "--max-rows",
        type=int,
        default=DEFAULT_MAX_ROWS,
        help=f"rows shown per result in table format (default {DEFAULT_MAX_ROWS}; 0 = all)",
    )
    p.set_defaults(func=run)


class Session:
    def __init__(self, engine: Any, fmt: str, max_rows: int) -> None:
        self.engine = engine
        self.format = fmt
        self.max_rows = max_rows
        self.pending = False  # a statement is half typed (the prompt says `...>`)

    def execute(self, sql: str) -> bool:
        """Run one statement (or several) and show each result; False when one failed."""
        from bazaar.analytics.asking import rows
        from bazaar.analytics.render import rows_table
        from bazaar.domain.errors import AnalyticsError

        try:
            statements = self.engine.statements(sql)
        except AnalyticsError as exc:
            console.print(f"[bold red]error:[/] {exc.detail}")
            return False
        for statement in statements:
            began = time.monotonic()
            try:
                found = rows(self.engine.query(statement))
            except AnalyticsError as exc:
                console.print(f"[bold red]error:[/] {exc.detail}")
                return False
            took = (time.monotonic() - began) * 1000
            if self.format == "json":
                print(json.dumps(found))
                continue
            shown = found if self.max_rows <= 0 else found[: self.max_rows]
            out.print(rows_table("", shown))
            more = len(found) - len(shown)
            note = (
                f"; {more:,} more not shown (LIMIT, --max-rows 0 or .format json)" if more else ""
            )
            console.print(
                f"[dim]{len(found):,} row{'s' * (len(found) != 1)}, {took:.0f} ms{note}[/]"
            )
        return True

    def dot(self, line: str) -> bool:
        """A dot command; False to quit."""
        word, _, rest = line.partition(" ")
        if word in (".quit", ".exit", ".q"):
            return False
        if word == ".tables":
            from bazaar.analytics.engines import LAKE_TABLES

            counts = " UNION ALL ".join(
                f"SELECT '{t}' AS table_name, count(*) AS rows FROM {t}"
                for t in (*LAKE_TABLES, "items")
            )
            self.execute(counts)
        elif word == ".schema" and rest.strip().isidentifier():
            self.execute(f"DESCRIBE {rest.strip()}")
        elif word == ".format" and rest.strip() in ("table", "json"):
            self.format = rest.strip()
        else:
            console.print(_HELP)
        return True

    def run_lines(self, lines: Iterator[str], *, interactive: bool) -> bool:
        """Statements (ending with `;`) and dot commands, line by line. At a prompt an error
        is shown and the prompt goes on; in a script the first error stops it (False)."""
        buffer: list[str] = []
        while True:
            self.pending = bool(buffer)
            try:
                line = next(lines)
            except StopIteration:
                rest = "\n".join(buffer).strip()
                return not rest or interactive or self.execute(rest)
            except KeyboardInterrupt:  # drop the statement being typed, keep the prompt
                print()
                buffer = []
                continue
            if not buffer and line.strip().startswith("."):
                if not self.dot(line.strip()):
                    return True
                continue
            buffer.append(line)
            if line.rstrip().endswith(";"):
                ok = self.execute("\n".join(buffer))
                buffer = []
                if not ok and not interactive:
                    return False


def _typed(session: Session) -> Iterator[str]:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history in input())
    console.print(f"DuckDB over the lake; {_HELP}")
    while True:
        try:
            yield input("...> " if session.pending else "bazaar> ")
        except EOFError:
            print()
            return


def run(args: argparse.Namespace) -> int:
    from bazaar.analytics.engines import DuckDBEngine
    from bazaar.domain.catalog import load_catalog
    from bazaar.domain.errors import BazaarError

    try:
        engine = DuckDBEngine(lake_of(args), load_catalog(args.catalog))
    except BazaarError as exc:
        fail(exc.detail)
    session = Session(engine, args.format, args.max_rows)
    try:
        if args.command:
            return 0 if all(session.execute(sql) for sql in args.command) else 1
        if not sys.stdin.isatty():  # a script on a pipe: run it, stop at the first error
            lines = (line.rstrip("\n") for line in sys.stdin)
            return 0 if session.run_lines(lines, interactive=False) else 1
        session.run_lines(_typed(session), interactive=True)
        return 0
    finally:
        engine.close()
