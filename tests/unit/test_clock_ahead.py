"""The `make test-ahead` guard reads its offset right and refuses a clock that did not move."""

from __future__ import annotations

import time

import pytest

from tests.support import clock_ahead
from tests.support.clock_ahead import check_clock_ahead, offset_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("+3y", 3 * 365 * 86_400), ("+400d", 400 * 86_400), ("+90", 90), ("+1.5h", 5_400)],
)
def test_offsets_read_as_libfaketime_reads_them(text: str, seconds: float) -> None:
    assert offset_seconds(text) == seconds


@pytest.mark.parametrize("text", ["-3y", "3y", "@2030-01-01 00:00:00", "+3w", ""])
def test_anything_but_a_forward_offset_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="forward offset"):
        offset_seconds(text)


def test_a_clock_that_did_not_move_fails_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    now = time.time()
    monkeypatch.setattr(clock_ahead, "kernel_now", lambda: now)
    monkeypatch.setattr(clock_ahead.time, "time", lambda: now)
    assert "0.0 days ahead" in (check_clock_ahead("+3y") or "")
    monkeypatch.setattr(clock_ahead.time, "time", lambda: now + 3 * 365 * 86_400 + 1.0)
    assert check_clock_ahead("+3y") is None
