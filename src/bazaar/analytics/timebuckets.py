"""Time buckets that fit a run's length: a two-minute demo is cut into seconds, a week of
play into hours or days, so every chart over time has tens of bars, not one solid block.

Widths are clock-friendly (100, 200, 500 ms; 1, 2, 5, 10, 15, 30 s; 1, 2, 5, 10, 15,
30 min; 1, 2, 3, 6, 12 h; 1, 2, 7, 30 days) and buckets start on multiples of the width
since the epoch, so minute and day buckets begin on the clock's own boundaries (UTC).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

SECOND = 1_000_000  # widths are in microseconds, the lake's resolution
MINUTE, HOUR, DAY = 60 * SECOND, 3600 * SECOND, 86400 * SECOND
WIDTHS = (
    SECOND // 10, SECOND // 5, SECOND // 2,
    SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
    MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
    DAY, 2 * DAY, 7 * DAY, 30 * DAY,
)  # fmt: skip
MAX_BUCKETS = 60  # enough to see a shape, few enough to read each bar


@dataclass(frozen=True, slots=True)
class TimeBuckets:
    first_us: int  # the first event's instant (epoch microseconds)
    last_us: int
    width_us: int  # one bucket's width

    @property
    def label(self) -> str:
        """The width as a person says it: `10 s`, `5 min`, `1 h`, `1 day`."""
        for unit, name in ((DAY, "day"), (HOUR, "h"), (MINUTE, "min"), (SECOND, "s")):
            if self.width_us % unit == 0:
                n = self.width_us // unit
                return f"{n} {name}{'s' if name == 'day' and n > 1 else ''}"
        return f"{self.width_us // 1000} ms"

    @property
    def count(self) -> int:
        """Buckets from the one holding the first event to the one holding the last."""
        return (self.last_us // self.width_us) - (self.first_us // self.width_us) + 1

    @property
    def span(self) -> tuple[str, str]:
        """The instants the charts' time axes run between: the first bucket's start and
        the last one's end."""
        start = self.first_us - self.first_us % self.width_us
        return instant(start), instant(start + self.count * self.width_us)


def fit_buckets(first_us: int, last_us: int, max_buckets: int = MAX_BUCKETS) -> TimeBuckets:
    """The narrowest clock-friendly width that cuts [first, last] into at most `max_buckets`
    buckets (the widest width when even that gives more)."""
    last_us = max(last_us, first_us)
    for width in WIDTHS:
        if last_us // width - first_us // width + 1 <= max_buckets:
            return TimeBuckets(first_us, last_us, width)
    # Longer than max_buckets x 30 days: whole multiples of 30 days.
    months = math.ceil((last_us - first_us) / (WIDTHS[-1] * max_buckets)) + 1
    return TimeBuckets(first_us, last_us, WIDTHS[-1] * months)


def instant(epoch_us: int) -> str:
    """An ISO-8601 UTC instant for a chart axis (plotly reads it as a date)."""
    moment = datetime.fromtimestamp(epoch_us // SECOND, UTC).replace(microsecond=epoch_us % SECOND)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:23]
