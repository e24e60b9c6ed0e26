"""The guard behind `make test-ahead`: the suite run with every clock moved years ahead.

A test that pins a date (a literal instant compared with the store's clock, an expiry, an
`--at`) passes until the calendar reaches it and fails every run after. `make test-ahead`
runs the suite under libfaketime with `BAZAAR_CLOCK_AHEAD` naming the offset; this module
makes sure the offset really took, so a run that silently kept today's clock cannot pass
as the guard.
"""

from __future__ import annotations

import re
import time

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "y": 365 * 86_400}
_OFFSET = re.compile(r"^\+(\d+(?:\.\d+)?)([smhdy]?)$")


def offset_seconds(text: str) -> float:
    """libfaketime's relative form, '+3y' or '+400d' or '+90' (seconds), in seconds."""
    match = _OFFSET.match(text.strip())
    if match is None:
        raise ValueError(
            f"BAZAAR_CLOCK_AHEAD={text!r}: expected a forward offset like +3y or +400d"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def kernel_now() -> float:
    """Seconds since the epoch from the kernel's boot time and uptime: read from /proc,
    which libfaketime does not intercept (it fakes clock calls and file times alike)."""
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
            f"BAZAAR_CLOCK_AHEAD={text} but the clock is {ahead / 86_400:.1f} days ahead,"
            " not the offset asked for: run the suite through `faketime -f` (make test-ahead)"
        )
    return None
