"""Token buckets: each credential may spend `burst` requests at once, refilled at `rate`/s.

The buckets live in the API process. With `--workers N` every worker keeps its own, so a
client spread over N connections can reach up to N times the configured rate: the limit is
a guard against a runaway or abusive client, not an exact quota. (An exact cross-worker
quota would put one more store round trip on every write.)
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*(?::\s*(\d+))?\s*$")
_PER = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
# Buckets kept before full ones (indistinguishable from absent) are dropped.
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    rate: float  # requests per second, refilled continuously
    burst: int  # bucket size: requests that may arrive at once

    @staticmethod
    def parse(spec: str) -> RateLimit | None:
        """`50/s:100` (50 per second, bursts of 100), `50/s` (burst twice the rate),
        `600/min:20`; `off` (or 0) for no limit."""
        if spec.strip().lower() in ("off", "none", "0", ""):
            return None
        match = _SPEC.match(spec.lower())
        if match is None:
            raise ValueError(f"rate limit {spec!r}: expected RATE/s[:BURST], e.g. 50/s:100, or off")
        rate = float(match.group(1)) / _PER[match.group(2)]
        burst = int(match.group(3)) if match.group(3) else max(1, math.ceil(rate * 2))
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate limit {spec!r}: rate and burst must be positive")
        return RateLimit(rate, burst)

    def __str__(self) -> str:
        return f"{self.rate:g}/s:{self.burst}"


class RateLimiter:
    """Per-key token buckets for one limit; safe to call from any thread."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of `key`'s budget: 0.0 if allowed, else the seconds until one
        request is available again (the request is then NOT counted)."""
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > self._max:
                    self._forget_full(now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate

    def wait(self, key: str) -> float:
        """Seconds until `key` could spend one request (0.0: now), without spending."""
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            held = self._buckets.get(key)
            if held is None:
                return 0.0
            tokens = min(burst, held[0] + (self._clock() - held[1]) * rate)
            return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    def _forget_full(self, now: float) -> None:
        rate, burst = self.limit.rate, self.limit.burst
        full = [k for k, (t, at) in self._buckets.items() if t + (now - at) * rate >= burst]
        for key in full:
            del self._buckets[key]


def retry_after_seconds(wait: float) -> int:
    """Retry-After is whole seconds; never 0, which clients read as "now"."""
    return max(1, math.ceil(wait))
