"""Token buckets: bursts pass, the next request waits, the budget refills with time."""

from __future__ import annotations

import pytest

from bazaar.api.ratelimit import RateLimit, RateLimiter, retry_after_seconds


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("50/s:100", RateLimit(50.0, 100)),
        ("50/s", RateLimit(50.0, 100)),
        ("600/min:20", RateLimit(10.0, 20)),
        ("0.5/s:1", RateLimit(0.5, 1)),
        ("off", None),
    ],
)
def test_specs(spec: str, expected: RateLimit | None) -> None:
    assert RateLimit.parse(spec) == expected


@pytest.mark.parametrize("spec", ["fast", "50", "50/h", "-1/s", "50/s:x", "0/s:5"])
def test_malformed_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        RateLimit.parse(spec)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_wait_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(2.0, 3), clock=clock)
    assert [limiter.take("player:1") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("player:1")
    assert wait == pytest.approx(0.5)
    assert limiter.take("player:2") == 0.0, "buckets are per credential"
    clock.now += 0.5
    assert limiter.take("player:1") == 0.0
    assert limiter.take("player:1") > 0
    clock.now += 60
    assert [limiter.take("player:1") for _ in range(3)] == [0.0] * 3, "refills up to burst"
    assert limiter.take("player:1") > 0


def test_refused_requests_do_not_spend_budget() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1.0, 1), clock=clock)
    assert limiter.take("k") == 0.0
    for _ in range(10):
        assert limiter.take("k") > 0
    clock.now += 1.0
    assert limiter.take("k") == 0.0


def test_full_buckets_are_forgotten_past_the_cap() -> None:
    clock = Clock()
    limiter = RateLimiter(RateLimit(1000.0, 1), clock=clock, max_buckets=10)
    for n in range(50):
        limiter.take(f"k{n}")
        clock.now += 0.01
    assert len(limiter._buckets) <= 11


def test_retry_after_is_whole_seconds_never_zero() -> None:
    assert retry_after_seconds(0.01) == 1
    assert retry_after_seconds(1.2) == 2
