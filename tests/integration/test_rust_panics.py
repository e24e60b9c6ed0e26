"""The stderr filter that keeps delta-rs's panic reports off the terminal (a subprocess:
it owns file descriptor 2)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

_WRITER = textwrap.dedent(
    r"""
    import os, sys
    from bazaar.cli import common
    common.standalone = True  # as the `bazaar` program: the filter is for the terminal
    common.quiet_rust_panics()
    # As Rust's default hook writes them, straight to fd 2, between ordinary output.
    os.write(2, b"ingest 500 events\n")
    os.write(2, b"\nthread 'tokio-rt-worker' (29953) panicked at /x/buffered.rs:369:41:\n")
    os.write(2, b"Already shut down\nstack backtrace:\n   0: rust_begin_unwind\n")
    os.write(2, b"             at /rustc/library/std/src/panicking.rs:697:5\n")
    os.write(2, b"note: Some details are omitted, run with `RUST_BACKTRACE=full`\n")
    os.write(2, b"\nthread 'tokio-rt-worker' (29955) panicked at /x/buffered.rs:369:41:\n")
    os.write(2, b"Already shut down\n")
    print("error: lake write failed: no space left on device", file=sys.stderr)
    os.write(2, b"\n")
    os.write(2, b"a line without its end")
    """
)


def run_writer(**env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _WRITER],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_panic_reports_are_dropped_and_everything_else_is_kept_in_order() -> None:
    assert run_writer() == (
        "ingest 500 events\n"
        "error: lake write failed: no space left on device\n"
        "\n"
        "a line without its end"
    )


def test_the_filter_can_be_turned_off_to_debug_delta_rs() -> None:
    shown = run_writer(BAZAAR_SHOW_RUST_PANICS="1")
    assert shown.count("panicked at") == 2 and "stack backtrace" in shown
