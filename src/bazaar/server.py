"""`bazaar serve`'s process: the API under uvicorn, with the relay, the lake follower, the
retention sweeper and the offer expiry sweeper beside it, all built by bootstrap.py.

`prepare` checks everything a bad setting can break (store URL, durations, key file, rate
limits, connection limits) before a port is bound; `Server.run` then serves until
stopped and stops what it started. One relay and one of each sweeper per server, never in
the workers: they read the outbox the workers write, and expire each offer once.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bazaar.bootstrap import (
    adjustment_reasons,
    build_app,
    build_store,
    follow_store,
    http_limits,
    retention_policy,
)
from bazaar.config import Settings, export_to_environ
from bazaar.domain.errors import BazaarError
from bazaar.telemetry.logs import announce, configure_logging, uvicorn_log_config
from bazaar.telemetry.metrics import multiprocess_dir

if TYPE_CHECKING:
    from bazaar.api.auth import AuthPolicy
    from bazaar.store.base import Store
    from bazaar.store.retention import RetentionPolicy
    from bazaar.stream.kafka import KafkaSettings


class ServeRefused(Exception):
    """A setting that would not serve; the message says which and why."""


@dataclass
class Server:
    settings: Settings
    kafka: KafkaSettings | None
    store: Store
    auth: AuthPolicy
    retention: RetentionPolicy

    def run(self, banner: str | None = None) -> None:
        with multiprocess_dir():  # the workers' metrics, summed by whoever answers /metrics
            self._run(banner)

    def _run(self, banner: str | None) -> None:
        import uvicorn

        from bazaar.api.app import combined_health
        from bazaar.store.expiry import ExpirySweeper
        from bazaar.store.retention import RetentionSweeper, format_duration, outbox_health

        settings, store, policy = self.settings, self.store, self.retention
        self._warn()
        url = f"http://{settings.host}:{settings.port}"
        announce(banner or f"bazaar serving on [bold]{url}[/] (store {settings.store})")
        announce(f"  API docs: {url}/docs   OpenAPI: {url}/openapi.json   Ctrl-C stops")
        announce(f"  Prometheus metrics: {url}/metrics")
        if settings.lake:
            announce(f"  live dashboard: {url}/dashboard")
            follow_store(settings)
            announce(f"  lake: following the outbox into {settings.lake}")
        relay = None
        if self.kafka is not None:
            from bazaar.stream.relay import BackgroundRelay, OutboxRelay

            relay = BackgroundRelay(OutboxRelay(build_store(settings), self.kafka)).start()
            announce(
                f"  kafka: relaying the outbox to {self.kafka.bootstrap} topic {self.kafka.topic}"
            )
        # It releases what every consumer passed.
        sweeper = RetentionSweeper(build_store(settings), policy).start()
        announce(
            f"  retention: outbox {format_duration(policy.outbox)} (and until every consumer"
            f" passed), trades {format_duration(policy.trades)}; `bazaar outbox status` shows"
            " what is held"
        )
        expiry = ExpirySweeper(build_store(settings)).start()
        announce("  offers: expired on time (within ~1 s of expires_at), holds released")
        if settings.trade_fee_bps:
            announce(
                f"  trade fee: {settings.trade_fee_bps / 100:g} % of the gold a side gives,"
                " paid on top and burned"
            )
        balance_table: Path | None = None  # the workers' table, removed when serving ends
        try:
            if settings.workers <= 1:
                health = combined_health(
                    lambda: outbox_health(store, policy), relay.health if relay else None
                )
                app = build_app(settings, store, self.auth, health)
                uvicorn.run(app, **self._uvicorn_options())  # type: ignore[arg-type]
                return
            store.close()
            balance_table = self._export_for_workers()
            uvicorn.run(
                "bazaar.bootstrap:app_from_environment",
                factory=True,
                workers=settings.workers,
                **self._uvicorn_options(),  # type: ignore[arg-type]
            )
        finally:
            if balance_table is not None:
                balance_table.unlink(missing_ok=True)
            sweeper.stop()
            expiry.stop()
            if relay is not None:
                relay.stop()

    def _warn(self) -> None:
        if not self.auth.enabled:
            announce(
                "[bold red]WARNING: no API key configured: anyone who can reach this port can"
                " create players and move any player's items and gold.[/] Configure keys with"
                " --api-key-file PATH or BAZAAR_API_KEYS (see README, Offers and"
                " authentication).",
                warning=True,
            )
        elif (keys := self.auth.keys) is not None and keys.path and self.settings.workers <= 1:
            signal.signal(signal.SIGHUP, lambda *_: keys.request_reload())
        for warning in (self.store.durability_warning(), self.store.retention_warning()):
            if warning is not None:
                announce(f"[bold yellow]warning:[/] {warning}", warning=True)

    def _export_for_workers(self) -> Path | None:
        """Hand the settings to the workers uvicorn starts, with the table they spread
        their connections by (api/balance.py); returns the table to remove at the end."""
        from bazaar.api.balance import create_table

        try:
            table = create_table(self.settings.workers)
        except OSError as exc:
            announce(f"[bold yellow]warning:[/] workers not balanced: {exc}", warning=True)
            export_to_environ(self.settings)
            return None
        export_to_environ(self.settings.override(connection_table=str(table)))
        return table

    def _uvicorn_options(self) -> dict[str, Any]:
        settings = self.settings
        return {
            "host": settings.host,
            "port": settings.port,
            "log_level": settings.log_level,
            "log_config": uvicorn_log_config(settings.log_format, settings.log_level),
            "access_log": False,
            "loop": "uvloop",
            "http": "bazaar.api.http:OneWriteHttpToolsProtocol",  # one write per answer
            "backlog": 4096,
            "timeout_keep_alive": settings.keep_alive_timeout,
            "server_header": False,  # no "server: uvicorn" in every answer: nothing reads it
        }


def prepare(settings: Settings, kafka: KafkaSettings | None = None) -> Server:
    """Everything `bazaar serve` needs, checked before a port is bound (ServeRefused says
    what is wrong). `kafka` also runs the outbox relay in this process."""
    from bazaar.api.auth import auth_from_settings
    from bazaar.api.limits import configure as configure_limits

    configure_logging(settings.log_format, settings.log_level)
    try:
        policy = retention_policy(settings)
        adjustment_reasons(settings)  # a bad reason list or fee fails before binding
        store = build_store(settings)  # opened here too, so a bad URL fails before binding
    except (BazaarError, ValueError) as exc:
        raise ServeRefused(str(exc)) from exc
    try:
        auth = auth_from_settings(settings)  # a bad key file or limit fails before binding
    except (OSError, ValueError) as exc:
        raise ServeRefused(f"auth settings: {exc}") from exc
    try:
        configure_limits(http_limits(settings))
    except ValueError as exc:
        raise ServeRefused(f"connection limits: {exc}") from exc
    return Server(settings, kafka, store, auth, policy)
