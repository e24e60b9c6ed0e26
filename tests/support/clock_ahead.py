"""The guard behind `make test-ahead`: the suite run with every clock moved years ahead.

A test that pins a date (a literal instant compared with the store's clock, an expiry, an
`--at`) passes until the calendar reaches it and fails every run after. `make test-ahead`
runs the suite with `BAZAAR_CLOCK_AHEAD` naming an offset (`+3y`), and then:

- every Python process the suite starts (pytest, `bazaar serve` and its workers, relay,
  ingest, simulate) moves its wall clock by the offset at startup: `clock_ahead_site/
  sitecustomize.py` is put on PYTHONPATH and calls `travel()`, which uses time-machine (the
  wall clock only: monotonic clocks, timeouts and sleeps are untouched);
- redis-server runs under Debian's libfaketime (`faketime_environ()`), so the instants its
  Lua scripts take from TIME and the idempotency keys' expiry move with Python's.

libfaketime is not preloaded into Python itself: librdkafka's shutdown waits forever under
it. The broker keeps the real clock (it stamps nothing bazaar reads as event time), and so
does Spark's JVM (it reads instants from the events). `pytest_configure` refuses a run
whose clock did not move, so a broken guard cannot pass as one.
"""

from __future__ import annotations

import glob
import os
import re
import time
from datetime import UTC, datetime, timedelta

ENV = "BAZAAR_CLOCK_AHEAD"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "y": 365 * 86_400}
_OFFSET = re.compile(r"^\+(\d+(?:\.\d+)?)([smhdy]?)$")


def offset_seconds(text: str) -> float:
    """libfaketime's relative form, '+3y' or '+400d' or '+90' (seconds), in seconds."""
    match = _OFFSET.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r}: expected a forward offset like +3y or +400d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def requested() -> str | None:
    return os.environ.get(ENV) or None


def travel() -> None:
    """Move this process's wall clock ahead by the requested offset, ticking from there."""
    ahead = requested()
    if ahead is None:
        return
    import time_machine

    moved = datetime.now(UTC) + timedelta(seconds=offset_seconds(ahead))
    time_machine.travel(moved, tick=True).start()
    # time-machine starts the ticking clock at the first reading, not at start(): read it
    # now, or the clock lags by however long the process takes to import what it runs.
    time.time_ns()


def faketime_environ() -> dict[str, str]:
    """What a non-Python server's environment needs to run on the moved clock ({} if
    none): libfaketime preloaded into the server itself (not through the `faketime`
    wrapper, which would stand between the tests and the pid they signal)."""
    ahead = requested()
    if ahead is None:
        return {}
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    found += sorted(glob.glob("/usr/lib/faketime/libfaketime.so.1"))
    if not found:
        raise RuntimeError(f"{ENV} is set but libfaketime is missing: apt-get install faketime")
    return {"LD_PRELOAD": found[0], "FAKETIME": ahead}


def kernel_now() -> float:
    """Seconds since the epoch from the kernel's boot time and uptime: read from /proc,
    which neither time-machine nor libfaketime intercepts."""
    with open("/proc/stat") as stat:
        boot = next(int(line.split()[1]) for line in stat if line.startswith("btime"))
    with open("/proc/uptime") as uptime:
        return boot + float(uptime.read().split()[0])


def check_clock_ahead(text: str) -> str | None:
    """None when this process's clock runs `text` ahead of the kernel's, else why not."""
    wanted = offset_seconds(text)
    ahead = time.time() - kernel_now()
    # a few seconds of slack: btime is whole seconds and uptime is read after time.time()
    if abs(ahead - wanted) > max(5.0, wanted * 0.001):
        return (
            f"{ENV}={text} but the clock is {ahead / 86_400:.1f} days ahead, not the offset"
            " asked for: run the suite through `make test-ahead`"
        )
    return None
