"""Pieces every command shares: help formatting with examples, common flags, errors."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, NoReturn

from bazaar.config import quiet_rust_backtraces, show_rust_panics
from bazaar.console import console as console
from bazaar.console import out as out

# True when this process is the `bazaar` program itself (not main([...]) inside a test).
standalone = False


def quiet_rust_panics() -> None:
    """For commands that write the lake: keep delta-rs's panic reports off stderr."""
    if standalone and not show_rust_panics():
        from bazaar.lake.rust_panics import silence_rust_panics

        quiet_rust_backtraces()

        terminal = console.is_terminal
        silence_rust_panics()  # fd 2 becomes a pipe to a filter that forwards to the terminal
        if terminal:  # so live progress and colours stay as they were
            console._force_terminal = True


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
    # One line, however long: scripts and log collectors read errors line by line.
    console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    sys.exit(code)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def stop_on_signals(notice: str | None = None) -> threading.Event:
    """An event that Ctrl-C and SIGTERM set, so a long-running command finishes the work in
    hand (lands its batch, records its position) and exits cleanly instead of dying mid-way.
    Call it after anything that installs its own handlers (pyspark does, on start)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if notice and not stop.is_set():
            console.print(notice)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def progress_due(quiet: bool) -> Callable[[], bool]:
    """A check that says when the next progress line is due: every second on a terminal,
    every 5 s into a log (a follower runs for days), never when quiet."""
    every = 1.0 if console.is_terminal else 5.0
    last = [0.0]

    def due() -> bool:
        now = time.monotonic()
        if quiet or now - last[0] < every:
            return False
        last[0] = now
        return True

    return due


def export_metrics(address: str, read: Callable[[], Any]) -> None:
    """`--metrics-port`: serve `read()`'s figures (telemetry/exporter.py), or exit saying why."""
    from bazaar.telemetry.exporter import start_exporter

    try:
        url = start_exporter(address, read)
    except (OSError, ValueError) as exc:
        fail(f"--metrics-port: {exc}")
    console.print(f"metrics: {url}")
