"""The ids and instants stores hand out: version 4 event ids, fixed-width instant text."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta

from bazaar.domain.clock import format_instant, instant_micros
from bazaar.store.base import new_event_ids


def test_event_ids_are_version_4_uuids() -> None:
    ids = new_event_ids(500)
    assert len(set(ids)) == 500
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_instants_are_the_fixed_width_text_they_always_were() -> None:
    rng = random.Random(3)
    for _ in range(1000):
        moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
            microseconds=rng.randrange(10**16) if rng.random() < 0.9 else 0
        )
        expected = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        assert format_instant(moment) == expected
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", expected)


def test_instant_micros_counts_from_the_epoch() -> None:
    assert instant_micros("1970-01-01T00:00:00.000000Z") == 0
    assert instant_micros("1969-12-31T23:59:59.999999Z") == -1
    assert instant_micros("2026-11-30T00:53:20.123456Z") == 1_796_000_000_123_456
    assert instant_micros("2026-11-30T01:53:20.123456+01:00") == 1_796_000_000_123_456
