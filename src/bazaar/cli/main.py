"""Entry point: `bazaar COMMAND ...`. Each command lives in its own module and registers
itself here; a command parses flags, calls one library function, and formats the result."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from bazaar import __version__

# Modules under bazaar.cli, each with register(subparsers). Order is the help's order.
COMMANDS = [
    "serve", "demo", "ingest", "lake", "simulate", "relay", "outbox", "ask", "report", "sql",
    "keys",
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bazaar",
        description="bazaar: a fantasy-game trade engine with a behaviour-analytics pipeline.",
        epilog="example:\n  bazaar serve --port 8000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"bazaar {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"bazaar.cli.{name.replace('-', '_')}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None:
        from bazaar.cli import common

        common.standalone = True
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
