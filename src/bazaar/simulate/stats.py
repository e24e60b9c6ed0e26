"""Live counters of a simulation run, how often a driver reports them, the summary a run
ends with, and the error that ends it early; shared by both drivers (driver.py in
process, http_driver.py over HTTP)."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bazaar.simulate.plan import PlannedTrade

RECENT = 2048  # latencies behind the live p99: the last few seconds, not the whole run
PROGRESS_EVERY = 0.1  # seconds between progress callbacks
ECONOMY_COUNTS = ("grants", "consumptions", "offers created", "offers accepted",
                  "offers declined", "offers countered", "offers left to expire",
                  "offers expired", "offers failed")  # fmt: skip


class SimulationError(Exception):
    """The simulation could not run (API unreachable, players not created, store failed)."""


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[rank]


@dataclass(slots=True)
class SimulationStats:
    """Mutated by one driver thread or event loop; read by the progress display."""

    planned: int
    players: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0  # no answer, or an answer other than 200/409 (see `statuses`)
    diverged: int = 0  # answered differently from the simulator's model
    retried: int = 0
    declined: int = 0  # trades run as offers the addressee declined, as planned
    rejections: Counter[str] = field(default_factory=Counter)
    # Economy actions carried out (see `acted`): grants, consumptions, offers by ending.
    economy: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, every answered trade
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    started: float = field(default_factory=time.perf_counter)
    trading_started: float | None = None
    finished: float | None = None
    phase: str = "creating players"

    def acted(self, trade: PlannedTrade, done: bool) -> None:
        """Count an economy action the store carried out (`done`), or an offer it refused."""
        action, economy = trade.action, self.economy
        if action in ("grant", "consume"):
            if done:
                economy["grants" if action == "grant" else "consumptions"] += 1
            return
        economy["offers created"] += 1
        if action == "offer_expire":
            economy["offers left to expire" if done else "offers failed"] += 1
            return
        if action.startswith("counter"):
            economy["offers countered"] += 1
            economy["offers created"] += 1  # the counter-offer itself
        if not done:
            economy["offers failed"] += 1
        elif action.endswith("decline"):
            economy["offers declined"] += 1
        else:
            economy["offers accepted"] += 1

    def latency(self, seconds: float) -> None:
        self.latencies.append(seconds)
        self.recent.append(seconds)

    @property
    def trading_seconds(self) -> float:
        if self.trading_started is None:
            return 0.0
        end = self.finished if self.finished is not None else time.perf_counter()
        return max(end - self.trading_started, 1e-9)

    @property
    def trades_per_second(self) -> float:
        done = self.accepted + self.rejected + self.failed + self.declined
        return done / self.trading_seconds if self.trading_started is not None else 0.0

    @property
    def recent_p99_ms(self) -> float:
        return percentile(sorted(self.recent), 0.99) * 1000


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    target: str
    players: int
    exploiter_accounts: int
    planned: int
    sent: int
    accepted: int
    rejected: int
    failed: int
    server_errors: int  # 5xx answers
    diverged: int
    retried: int
    rejections: dict[str, int]
    declined: int  # trades run as offers and declined
    economy: dict[str, int]  # grants, consumptions, offers created/accepted/declined/...
    statuses: dict[int, int]
    create_seconds: float
    trade_seconds: float
    trades_per_second: float
    p50_ms: float
    p99_ms: float
    interrupted: bool
    player_ids: list[int]  # by slot: the server's id of each simulated player
    truth: dict[str, Any]

    @staticmethod
    def of(
        stats: SimulationStats,
        *,
        target: str,
        exploiter_accounts: int,
        interrupted: bool,
        player_ids: list[int],
        truth: dict[str, Any],
    ) -> SimulationSummary:
        ordered = sorted(stats.latencies)
        trading = stats.trading_started
        return SimulationSummary(
            target=target,
            players=stats.players,
            exploiter_accounts=exploiter_accounts,
            planned=stats.planned,
            sent=stats.sent,
            accepted=stats.accepted,
            rejected=stats.rejected,
            failed=stats.failed,
            server_errors=sum(n for status, n in stats.statuses.items() if status >= 500),
            diverged=stats.diverged,
            retried=stats.retried,
            rejections=dict(stats.rejections.most_common()),
            declined=stats.declined,
            economy={k: stats.economy[k] for k in ECONOMY_COUNTS if stats.economy[k]},
            statuses=dict(sorted(stats.statuses.items())),
            create_seconds=(trading if trading is not None else time.perf_counter())
            - stats.started,
            trade_seconds=stats.trading_seconds,
            trades_per_second=stats.trades_per_second,
            p50_ms=percentile(ordered, 0.50) * 1000,
            p99_ms=percentile(ordered, 0.99) * 1000,
            interrupted=interrupted,
            player_ids=player_ids,
            truth=truth,
        )

    def to_document(self) -> dict[str, Any]:
        doc = {name: getattr(self, name) for name in self.__dataclass_fields__}
        doc["statuses"] = {str(k): v for k, v in self.statuses.items()}
        return doc


Progress = Callable[[SimulationStats], None]
