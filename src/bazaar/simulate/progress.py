"""The live progress bar and the final summary table (rich), for the CLI and the demo."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from bazaar.simulate.stats import SimulationStats, SimulationSummary


class LiveProgress:
    """A two-line bar (players, then trades) fed by the driver's progress callback.

    with LiveProgress(console, players=100, trades=2000) as live:
        summary = run_simulation(url, plan, progress=live.update)
    """

    def __init__(self, console: Console, *, players: int, trades: int) -> None:
        self._bar = Progress(
            TextColumn("[bold]{task.description:<8}"),
            BarColumn(),
            TextColumn("{task.completed:>9,}/{task.total:,}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=8,
            transient=False,
        )
        self._players = self._bar.add_task("players", total=players, detail="")
        self._trades: TaskID | None = None
        self._trade_total = trades

    def __enter__(self) -> LiveProgress:
        self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._bar.stop()

    def update(self, stats: SimulationStats) -> None:
        self._bar.update(self._players, completed=stats.players)
        if stats.trading_started is None:
            return
        if self._trades is None:
            self._trades = self._bar.add_task("trades", total=self._trade_total, detail="")
        detail = (
            f"[green]{stats.accepted:,} accepted[/] [yellow]{stats.rejected:,} rejected[/]"
            + (f" [red]{stats.failed:,} failed[/]" if stats.failed else "")
            + f"  {stats.trades_per_second:,.0f} trades/s  p99 {stats.recent_p99_ms:.1f} ms"
        )
        self._bar.update(self._trades, completed=stats.sent, detail=detail)


def summary_table(summary: SimulationSummary) -> Table:
    title = "simulation summary" + (" (interrupted)" if summary.interrupted else "")
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows: list[tuple[str, str]] = [
        ("target", summary.target),
        ("players created", f"{summary.players:,} ({summary.exploiter_accounts} exploiters)"),
        ("trades sent", f"{summary.sent:,} of {summary.planned:,}"),
        ("accepted", f"{summary.accepted:,}"),
        ("rejected", f"{summary.rejected:,}"),
    ]
    rows += [(f"  {reason}", f"{n:,}") for reason, n in summary.rejections.items()]
    if summary.declined:
        rows.append(("declined (as offers)", f"{summary.declined:,}"))
    rows += [(name, f"{n:,}") for name, n in summary.economy.items()]
    rows += [
        ("failed (no answer / 5xx)", f"{summary.failed:,} / {summary.server_errors:,}"),
        ("answers unlike the model", f"{summary.diverged:,}"),
        ("player creation", f"{summary.create_seconds:.2f} s"),
        ("trading", f"{summary.trade_seconds:.2f} s"),
        ("throughput", f"{summary.trades_per_second:,.0f} trades/s"),
        ("latency p50 / p99", f"{summary.p50_ms:.2f} / {summary.p99_ms:.2f} ms"),
    ]
    if summary.retried:
        rows.append(("retries after 503", f"{summary.retried:,}"))
    for name, value in rows:
        table.add_row(name, value)
    return table
