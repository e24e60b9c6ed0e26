"""Pieces every command shares: help formatting with examples, common flags, errors."""

from __future__ import annotations

import argparse
import socket
import sys
from typing import NoReturn

from rich.console import Console

console = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def add_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    *,
    summary: str,
    description: str,
    example: str,
) -> argparse.ArgumentParser:
    """A sub-command whose help ends with a runnable example (tests enforce this)."""
    return subparsers.add_parser(
        name,
        help=summary,
        description=description,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///PATH.db (default: ./bazaar-data/bazaar.db) or redis://HOST:PORT/DB",
    )
    parser.add_argument("--catalog", metavar="PATH", help="catalog JSON file (default: built-in)")


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[bold red]error:[/] {message}")
    sys.exit(code)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
