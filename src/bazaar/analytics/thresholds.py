"""Every exploit detector's threshold, in one place, with the defaults the benchmark chose.

`benchmarks/detectors.py` runs the simulator's exploiters of every variant over 5 seeds and
two sizes and measures precision and recall per kind; the defaults below are the ones it
recorded in docs/BENCHMARKS.md. `bazaar ask` and `bazaar report` take each as a flag (the
field name with dashes: `--transfer-ratio 4`), generated from this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from bazaar.domain.errors import AnalyticsError


def _knob(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class ExploitThresholds:
    # market prices (bazaar ask prices)
    price_window_seconds: int = _knob(86_400, "trailing window of item-for-gold sales")
    price_min_sales: int = _knob(5, "sales below which the catalog value is the price")
    # value transfers: the edges of the value-flow graph
    transfer_ratio: float = _knob(3.0, "a side gives >= this x what it gets: a transfer")
    transfer_min_value: int = _knob(10, "... and at least this much more value")
    dedicated_share: float = _knob(0.5, "share of an account's trades that are transfers")
    # funnels
    funnel_min_sources: int = _knob(1, "dedicated accounts feeding a sink")
    funnel_min_value: int = _knob(1_000, "net value a sink took in")
    funnel_max_return: float = _knob(0.25, "share of its intake a sink may pass on")
    # lopsided trading
    lopsided_min_trades: int = _knob(3, "paid transfers a beneficiary took, repeated")
    lopsided_extreme_ratio: float = _knob(20.0, "... or one transfer at this ratio")
    lopsided_min_value: int = _knob(100, "value a beneficiary gained")
    # wash trading
    wash_window_seconds: int = _knob(3600, "window in which a ring's items net to zero")
    wash_min_cycles: int = _knob(3, "rounds a pair or ring must repeat")
    wash_max_imbalance: float = _knob(0.1, "units in vs out a ring member may differ by")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not value >= 0 or value != value:
                raise AnalyticsError(f"--{f.name.replace('_', '-')} must not be negative")
        if self.transfer_ratio <= 1:
            raise AnalyticsError("--transfer-ratio must be above 1 (a fair trade is 1)")
        if self.wash_min_cycles < 1:
            raise AnalyticsError("--wash-min-cycles must be at least 1")
        if self.wash_window_seconds < 1 or self.price_window_seconds < 1:
            raise AnalyticsError("windows must be at least 1 second")

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def threshold_flags() -> list[tuple[str, type, Any, str]]:
    """(flag, type, default, help) for every threshold, for the CLI."""
    return [
        (f"--{f.name.replace('_', '-')}", type(f.default), f.default, f.metadata["help"])
        for f in fields(ExploitThresholds)
    ]
