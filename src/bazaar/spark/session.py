"""The one place that builds a SparkSession, for ingest and for analytics.

`local[*]` by default; a cluster with `master="spark://HOST:7077"` (or `yarn`, `k8s://...`),
or whatever `spark-submit --master` already configured when run under it. Executors must run
an interpreter that has bazaar and pyarrow installed: locally that is this interpreter, so
`PYSPARK_PYTHON` is pointed at it (workers would otherwise start the system `python3`,
which has neither). pyspark is imported lazily and a missing pyspark or Java is reported
as `SparkUnavailable` with what to install, not as a JVM stack trace.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from bazaar.config import java_home, prepare_spark_environment, under_spark_submit
from bazaar.domain.errors import SparkUnavailable

DEFAULT_MASTER = "local[*]"

# Small shuffles (our batches are thousands to a few million rows, not terabytes), UTC
# everywhere, Arrow for every Python <-> JVM hand-over, and no UI port on a shared machine.
_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def _java_present() -> bool:
    home = java_home()
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "bazaar",
    config: Mapping[str, str] | None = None,
) -> Any:
    """The active SparkSession, or a new one on `master` (default: `local[*]`, unless
    spark-submit already chose one). Settings in `config` override the defaults; settings of
    an already running session are left as they are (Spark allows one session per JVM)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable(
            "Spark support needs pyspark: pip install 'bazaar[spark]' (and a Java 17+ runtime)"
        ) from exc
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if not _java_present():
        raise SparkUnavailable(
            "Spark needs a Java 17+ runtime: install one (e.g. apt-get install openjdk-17-jre)"
            " or set JAVA_HOME"
        )
    prepare_spark_environment(sys.executable)
    builder = SparkSession.builder.appName(app_name)
    if master is not None or not under_spark_submit():
        builder = builder.master(master or DEFAULT_MASTER)
    for key, value in {**_DEFAULTS, **(config or {})}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j / JVM start-up errors have no common base class
        raise SparkUnavailable(f"cannot start Spark on {master or DEFAULT_MASTER}: {exc}") from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_spark() -> None:
    """Stop the active session, if pyspark is installed and one is running."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
