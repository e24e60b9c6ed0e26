"""Rust panic reports from delta-rs's threads, kept off the user's terminal.

When a write fails underneath delta-rs (a full disk, a failing device), the error reaches
Python as an exception, which ingest turns into one clear line. But the tokio tasks still
writing the other files of the commit then panic ("Already shut down", object_store's
buffered writer) on runtime threads, and Rust's default panic hook prints each report
straight to file descriptor 2, before or after Python's line: Python cannot catch them and
`RUST_BACKTRACE=0` only shortens them. So a standalone `bazaar ingest` / `serve --lake` /
`demo` routes fd 2 through a pipe and a thread that forwards everything except these
reports, which it logs at debug level instead. Set `BAZAAR_SHOW_RUST_PANICS=1` to see them.

Only the process entry point installs it (`bazaar.cli.main`): inside a test runner that
captures fd 2 itself, the capture stays in charge.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import select
import sys
import threading

log = logging.getLogger("bazaar.lake")

# "thread 'tokio-rt-worker' (29953) panicked at /path/buffered.rs:369:41:" (Rust >= 1.73;
# older ones put the message on the same line, in quotes).
_HEADER = re.compile(rb"^thread '[^']*'(?: \(\d+\))? panicked at ")
# What follows the message: the hint about RUST_BACKTRACE, "stack backtrace:" and frames.
_TAIL = re.compile(rb"^(?:note: |stack backtrace:|\s+\S)")
_DRAIN_SECONDS = 1.0
_HEADER_START = b"thread '"


def _could_be_header(partial: bytes) -> bool:
    return partial.startswith(_HEADER_START) or _HEADER_START.startswith(partial)


class _PanicFilter:
    def __init__(self) -> None:
        self.target = os.dup(2)
        read_end, write_end = os.pipe()
        self.read_end = read_end
        os.dup2(write_end, 2)
        os.close(write_end)
        self.pipe_inode = os.fstat(2).st_ino
        self.state = "text"  # "message": the next line is a panic's message; "tail": its rest
        self.report: list[bytes] = []
        self.held_blank = False  # Rust prints a blank line before each report
        self.idle = threading.Event()
        self.thread = threading.Thread(target=self._pump, name="rust-panic-filter", daemon=True)
        self.thread.start()

    def active(self) -> bool:
        with contextlib.suppress(OSError):
            return os.fstat(2).st_ino == self.pipe_inode
        return False

    def _pump(self) -> None:
        pending = b""
        while True:
            ready, _, _ = select.select([self.read_end], [], [], 0.05)
            if not ready:
                self._forward_blank()
                self.idle.set()
                continue
            self.idle.clear()
            chunk = os.read(self.read_end, 65536)
            if not chunk:  # every writer is gone
                if pending:
                    self._line(pending)
                self._forward_blank()
                self.idle.set()
                return
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._line(line + b"\n")
            if pending and self.state == "text" and not _could_be_header(pending):
                # A line still being written (a progress display): show it now.
                self._forward_blank()
                self._write(pending)
                pending = b""

    def _line(self, line: bytes) -> None:
        if self.state == "message":
            self.report.append(line)
            self.state = "tail"
            return
        if self.state == "tail":
            if _TAIL.match(line):
                return
            self._close_report()
        if _HEADER.match(line):
            self.held_blank = False
            self.report = [line]
            # Rust >= 1.73 ends the header with ":" and puts the message on the next line.
            self.state = "message" if line.rstrip().endswith(b":") else "tail"
            return
        if line.strip() == b"":
            self._forward_blank()
            self.held_blank = True
            return
        self._forward_blank()
        self._write(line)

    def _close_report(self) -> None:
        self.state = "text"
        text = b" ".join(part.strip() for part in self.report).decode("utf-8", "replace")
        log.debug("a delta-rs thread panicked (report kept off the terminal): %s", text)

    def _forward_blank(self) -> None:
        if self.held_blank:
            self.held_blank = False
            self._write(b"\n")

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self.target, data)

    def drain(self) -> None:
        """Wait (briefly) until everything written so far has been forwarded."""
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        self.idle.clear()
        self.idle.wait(_DRAIN_SECONDS)


_filter: _PanicFilter | None = None
_lock = threading.Lock()


def silence_rust_panics() -> None:
    """Route fd 2 through the panic filter (idempotent)."""
    global _filter
    with _lock:
        if _filter is not None and _filter.active():
            return
        _filter = _PanicFilter()
        atexit.register(_filter.drain)
