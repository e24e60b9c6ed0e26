"""Kafka -> Delta Lake on Spark Structured Streaming (real Spark local[2], real Tansu broker):
the Spark ingest lands exactly the rows the Python ingest lands for the same events, and a
query killed mid-stream and restarted from its checkpoint loses and doubles nothing.

One Spark session for the module (start-up costs ~9 s on 2 cores); the kill test runs the
CLI in a child process so it can be SIGKILLed like a crashed driver.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable

from bazaar.domain.catalog import load_catalog
from bazaar.lake.ingest import Ingest
from bazaar.lake.sources import KafkaSource
from bazaar.lake.spark_ingest import (
    BATCHES_TABLE,
    SparkIngestConfig,
    batch_app_id,
    run_spark_ingest,
)
from bazaar.lake.tables import TABLES
from bazaar.lake.writer import LakeWriter
from bazaar.store.sqlite import SQLiteStore
from tests.integration.test_lake_ingest import Trader, assert_lake_equals_outbox, outbox, read_table
from tests.integration.test_lake_kafka import make_topic, publish, relay

pytestmark = pytest.mark.slow

# Differ by design between two ingests of the same events: when a dead letter was received.
_BY_DESIGN = {"dead_letters": ("received_at", "event_date")}


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from bazaar.spark.session import spark_session, stop_spark

    yield spark_session("local[2]", app_name="bazaar-test-spark-ingest")
    stop_spark()


@pytest.fixture
def trader(tmp_path: Path) -> Trader:
    store = SQLiteStore(tmp_path / "bazaar.db", load_catalog())
    trader = Trader(store, players=40, seed=11)
    trader.trade(1_500)
    return trader


def rows(lake: Path, table: str) -> list[tuple[Any, ...]]:
    data = read_table(lake, table).drop_columns(list(_BY_DESIGN.get(table, ())))
    return sorted(zip(*(c.to_pylist() for c in data.columns), strict=True), key=repr)


def python_ingest(bootstrap: str, topic: str, lake: Path) -> None:
    source = KafkaSource(
        bootstrap,
        topic=topic,
        group=f"{topic}-python",
        options={"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"},
    )
    with LakeWriter(lake) as writer:
        Ingest(source, writer, flush_seconds=0.2).run()
    source.close()


def test_spark_ingest_lands_the_same_rows_as_the_python_ingest(
    spark: Any, kafka_broker: Any, trader: Trader, tmp_path: Path
) -> None:
    topic, bootstrap = kafka_broker.fresh_topic("spark-same"), kafka_broker.bootstrap
    make_topic(bootstrap, topic, 3)
    messages = relay(trader.store)
    # The relay crashed once and re-sent 50 events; someone also sent garbage.
    publish(bootstrap, topic, messages[:700])
    publish(bootstrap, topic, [(b"7", b"\x00not an event")])
    publish(bootstrap, topic, messages[650:])

    python_ingest(bootstrap, topic, tmp_path / "python-lake")
    config = SparkIngestConfig(
        bootstrap, str(tmp_path / "spark-lake"), topic=topic, max_events_per_batch=600
    )
    summary = run_spark_ingest(config, master="local[2]")

    assert summary.batches >= 3  # the cap split the backlog into several micro-batches
    assert summary.duplicates == 50 and summary.dead_letters == 1
    assert_lake_equals_outbox(tmp_path / "spark-lake", outbox(trader.store))
    for table in TABLES:
        assert rows(tmp_path / "spark-lake", table) == rows(tmp_path / "python-lake", table), table

    # Run again with nothing new: the query resumes from its checkpoint and lands nothing.
    again = run_spark_ingest(config, master="local[2]")
    assert (again.query_id, again.events) == (summary.query_id, 0)
    for table in TABLES:
        assert rows(tmp_path / "spark-lake", table) == rows(tmp_path / "python-lake", table), table


def _spark_cli(bootstrap: str, topic: str, lake: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "bazaar", "ingest", "--engine", "spark", "--kafka", bootstrap,
        "--topic", topic, "--lake", str(lake), "--spark-master", "local[1]", *extra,
    ]  # fmt: skip


def _ledger_mark(lake: Path) -> int | None:
    metadata = lake / "_checkpoints" / "bazaar-ingest" / "metadata"
    if not metadata.exists() or not (lake / BATCHES_TABLE / "_delta_log").exists():
        return None
    query_id = json.loads(metadata.read_text())["id"]
    mark: int | None = DeltaTable(str(lake / BATCHES_TABLE)).transaction_version(
        batch_app_id(query_id)
    )
    return mark


def test_killed_mid_stream_and_restarted_from_its_checkpoint_loses_and_doubles_nothing(
    spark: Any, kafka_broker: Any, trader: Trader, tmp_path: Path
) -> None:
    topic, bootstrap, lake = (
        kafka_broker.fresh_topic("spark-kill"),
        kafka_broker.bootstrap,
        tmp_path / "lake",
    )
    make_topic(bootstrap, topic, 2)
    messages = relay(trader.store)
    publish(bootstrap, topic, messages[:1_000])
    log = tmp_path / "spark-ingest.log"
    with log.open("wb") as out:
        driver = subprocess.Popen(
            _spark_cli(bootstrap, topic, lake, "--follow", "--flush-events", "150",
                       "--trigger-seconds", "0"),
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 150
        while (mark := _ledger_mark(lake)) is None or mark < 2:
            assert driver.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        publish(bootstrap, topic, messages[1_000:])
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver, its JVM and its Python workers
        driver.wait(30)
    landed_before = read_table(lake, "trades").num_rows
    trader.trade(300)  # more events while the ingest was down
    publish(bootstrap, topic, relay(trader.store)[len(messages) :])

    config = SparkIngestConfig(bootstrap, str(lake), topic=topic, max_events_per_batch=2_000)
    summary = run_spark_ingest(config, master="local[2]")

    docs = outbox(trader.store)
    assert 0 < landed_before < sum(d["event_type"] == "trade_accepted" for d in docs)
    assert_lake_equals_outbox(lake, docs)
    # It resumed the killed query (same id, from its checkpoint), not a new one.
    assert _ledger_mark(lake) is not None
    query_id = json.loads((lake / "_checkpoints/bazaar-ingest/metadata").read_text())["id"]
    assert summary.query_id == query_id
    assert read_table(lake, "dead_letters").num_rows == 0


def test_trino_ddl_registers_every_table_ingest_created(tmp_path: Path) -> None:
    lake = tmp_path / "it's lake"  # a quote in the path must stay a valid SQL literal
    LakeWriter(lake).open().close()
    done = subprocess.run(
        [sys.executable, "-m", "bazaar", "lake", "trino-ddl", "--lake", str(lake),
         "--catalog", "lakehouse", "--schema", "game"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    statements = [s for s in done.stdout.splitlines() if s and not s.startswith("--")]
    assert statements[0] == "CREATE SCHEMA IF NOT EXISTS lakehouse.game;"
    assert len(statements) == 1 + len(TABLES)
    for table, statement in zip(TABLES, statements[1:], strict=True):
        location = (lake / table).as_uri().replace("'", "''")
        assert statement == (
            "CALL lakehouse.system.register_table(schema_name => 'game', "
            f"table_name => '{table}', table_location => '{location}');"
        )
    missing = subprocess.run(
        [sys.executable, "-m", "bazaar", "lake", "trino-ddl", "--lake", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "no lake tables" in missing.stderr
