"""The terminal: `console` for what a command says on stderr (banners, progress,
warnings), `out` for its results on stdout. Below both the CLI and telemetry, so a
library's announcement never reaches up into a command module."""

from __future__ import annotations

from rich.console import Console

from bazaar.config import terminal_columns


def _console(stderr: bool = False) -> Console:
    """A console that never cuts tables to 80 columns when its output is a pipe or a file
    (rich's default there): as wide as the content, unless COLUMNS says otherwise."""
    made = Console(stderr=stderr, highlight=False)
    if not made.is_terminal and not terminal_columns():
        made.width = 10_000
    return made


console = _console(stderr=True)
out = _console()
