"""Report pieces that need no lake: time buckets fitted to a run's length, and exploit
evidence flattened into table rows whatever columns a detector gives."""

from __future__ import annotations

import pytest

from bazaar.analytics.html_tables import suspect_rows, table
from bazaar.analytics.timebuckets import MAX_BUCKETS, fit_buckets, instant

SECOND = 1_000_000
T0 = 1_790_000_000 * SECOND + 123_456  # any instant; widths are relative to the span


@pytest.mark.parametrize(
    ("span_seconds", "label"),
    [
        (0, "100 ms"),
        (3, "100 ms"),
        (20, "500 ms"),
        (50, "1 s"),
        (10 * 60, "15 s"),
        (3 * 3600, "5 min"),
        (2 * 86400, "1 h"),
        (20 * 86400, "12 h"),
        (45 * 86400, "1 day"),
        (200 * 86400, "7 days"),
        (3 * 365 * 86400, "30 days"),
    ],
)
def test_buckets_fit_the_run(span_seconds: int, label: str) -> None:
    buckets = fit_buckets(T0, T0 + span_seconds * SECOND)
    assert buckets.label == label
    assert 1 <= buckets.count <= MAX_BUCKETS
    start, end = buckets.span
    assert start <= instant(T0) and instant(T0 + span_seconds * SECOND) < end


def test_longer_than_sixty_months_still_gives_at_most_sixty_buckets() -> None:
    buckets = fit_buckets(T0, T0 + 20 * 365 * 86400 * SECOND)
    assert buckets.count <= MAX_BUCKETS and buckets.label.endswith("days")


def test_minute_and_day_buckets_start_on_the_clock() -> None:
    minute = fit_buckets(T0, T0 + 3 * 3600 * SECOND)
    assert minute.span[0].endswith(":00.000") and minute.span[0][14:16] in ("00", "05", "10",
        "15", "20", "25", "30", "35", "40", "45", "50", "55")  # fmt: skip
    day = fit_buckets(T0, T0 + 40 * 86400 * SECOND)
    assert day.span[0].endswith("00:00:00.000")


def test_suspects_flatten_any_evidence_shape() -> None:
    rows = suspect_rows(
        [
            {"player_id": 1, "username": "a", "evidence": {"trades": 4, "ratio": 9.5}},
            {"player_id": 2, "username": "b", "evidence": [{"partner": 3}, {"partner": 4}]},
            {"player_id": 5, "username": "c", "evidence": "odd", "score": 0.9},
            {"player_id": 6, "username": "d"},
        ]
    )
    assert rows == [
        {"player_id": 1, "username": "a", "trades": 4, "ratio": 9.5},
        {"player_id": 2, "username": "b", "partner": 3},
        {"player_id": 2, "username": "b", "partner": 4},
        {"player_id": 5, "username": "c", "score": 0.9, "evidence": "odd"},
        {"player_id": 6, "username": "d"},
    ]
    html = table(rows, pages={2: {}})
    # every column any row has, a page link for the player that has one
    for column in ("ratio", "partner", "score", "evidence"):
        assert f"<th>{column}</th>" in html
    assert html.count('href="#player-2"') == 2 and 'href="#player-1"' not in html


def test_the_offer_funnel_gives_each_ending_its_share_of_the_offers_created() -> None:
    from bazaar.analytics.report_offers import funnel_rows

    rows = funnel_rows({"created": 8, "accepted": 5, "declined": 1, "countered": 2, "open": 0})
    shares = {r["stage"]: (r["offers"], r["share"]) for r in rows}
    assert shares["created"] == (8, "100%")
    assert shares["accepted"] == (5, "62.5%") and shares["countered"] == (2, "25.0%")
    assert shares["expired"] == (0, "0.0%")  # an ending the lake has no event for counts 0
    assert [r["stage"] for r in funnel_rows({})][1:] == [
        "accepted",
        "declined",
        "countered",
        "cancelled",
        "expired",
        "failed",
        "open",
    ]
    assert {r["share"] for r in funnel_rows({})[1:]} == {"-"}  # no offers: no shares
