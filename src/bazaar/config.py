"""Settings, read once: command-line flags over BAZAAR_* environment variables over defaults.

Nothing else in bazaar reads os.environ (prometheus_client's own PROMETHEUS_MULTIPROC_DIR,
set and read in telemetry/metrics.py, aside); workers started by uvicorn receive their
settings through the same BAZAAR_* variables, written by `to_environ`. Spark's variables
(JAVA_HOME, PYSPARK_*, SPARK_LOCAL_IP) are read and defaulted here too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_DATA_DIR = Path("bazaar-data")


def default_store_url(data_dir: Path = DEFAULT_DATA_DIR) -> str:
    return f"sqlite:///{data_dir / 'bazaar.db'}"


@dataclass(frozen=True, slots=True)
class Settings:
    store: str = default_store_url()
    catalog: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    kafka: str | None = None
    topic: str = "bazaar.events"
    lake: str | None = None
    log_level: str = "warning"
    log_format: str = "text"  # or "json": one object per line (telemetry/logs.py)
    # Auth (api/auth.py): server keys inline (comma-separated; raw or sha256:<hex>) and/or
    # a key file; none configured = auth off. Rate limits: RATE/s[:BURST] or off.
    api_keys: str | None = None
    api_key_file: str | None = None
    rate_limit: str = "50/s:100"
    server_rate_limit: str = "1000/s:2000"
    # Failed authentications per client address, per worker (api/auth.py): RATE/s[:BURST].
    auth_failure_limit: str = "5/s:20"
    # Connection limits (api/limits.py): head size, head/body deadline, idle, per worker.
    max_header_bytes: int = 16 * 1024
    request_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 1000
    # Bounded state (store/retention.py): durations such as 30s, 15m, 1h, 48h, 2d.
    outbox_retention: str = "1h"
    trade_retention: str = "48h"
    consumer_timeout: str = "24h"
    idempotency_window: str = "48h"
    # The economy (domain/grants.py): the trade fee in basis points of the gold a side
    # gives (0 to 10000; paid on top, burned), and the reasons grants and consumptions
    # may give (comma-separated).
    trade_fee_bps: int = 0
    adjustment_reasons: str = "quest_reward,loot,craft,repair,fee"
    # Set by `bazaar serve --workers N` for its workers (api/balance.py), not by operators.
    connection_table: str | None = None

    @staticmethod
    def from_environ(environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(Settings):
            raw = env.get(f"BAZAAR_{f.name.upper()}")
            if raw is None:
                continue
            parse = {"int": int, "float": float}.get(str(f.type), str)
            values[f.name] = parse(raw)
        return Settings(**values)

    def override(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_environ(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f"BAZAAR_{f.name.upper()}"] = str(value)
        return out


def export_to_environ(settings: Settings) -> None:
    """Hand settings to worker processes (uvicorn imports the app factory in each)."""
    os.environ.update(settings.to_environ())


def terminal_columns() -> str | None:
    """COLUMNS, when the user set the width tables are drawn to (console.py)."""
    return os.environ.get("COLUMNS")


def show_rust_panics() -> bool:
    """BAZAAR_SHOW_RUST_PANICS=1 lets delta-rs's panic reports through (for debugging)."""
    return os.environ.get("BAZAAR_SHOW_RUST_PANICS", "") not in ("", "0")


def quiet_rust_backtraces() -> None:
    """Shorter Rust panic reports, and no time spent capturing backtraces nobody reads."""
    os.environ["RUST_BACKTRACE"] = "0"


def java_home() -> str | None:
    """The Java runtime Spark starts its JVM from, when JAVA_HOME names one."""
    return os.environ.get("JAVA_HOME")


def under_spark_submit() -> bool:
    """spark-submit starts the JVM first and hands its port to Python: its --master wins."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def prepare_spark_environment(python: str) -> None:
    """Spark's Python workers run `python`; kept when the deployment set its own."""
    os.environ.setdefault("PYSPARK_PYTHON", python)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", python)
    # Loopback unless told otherwise: avoids Spark's "resolves to a loopback address" warning
    # here; on a cluster, SPARK_LOCAL_IP is set by the deployment and kept.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
