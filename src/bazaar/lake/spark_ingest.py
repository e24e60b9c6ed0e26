"""Kafka -> Delta Lake on Spark Structured Streaming, landing the same tables as `Ingest`.

The query: a Kafka stream (the `bazaar_kafka` Python data source, or Spark's native `kafka`
source where its package is installed) -> `foreachBatch(LakeBatchSink)`. The sink collects
the micro-batch to the driver as Arrow, turns it into the events the Python ingest
would have read (source `kafka:TOPIC:PARTITION`, position = offset, the exact value bytes)
and lands it through the same `LakeWriter`. Executors read Kafka in parallel; commits are
the driver's, as Delta commits to one table are serial anyway.

Exactly once, in two layers:

1. Per batch: a Delta app transaction `spark-ingest:<query id>` whose version is the batch
   id, committed to the `_spark_batches` table after the batch's table commits. A batch id
   at or below it is skipped without reading Kafka's values again (Spark replays the last
   uncommitted batch after a restart). The query id is Spark's, kept in the checkpoint: a
   new checkpoint is a new query, so its batch 0 is never mistaken for an old one.
2. Per table and partition: the writer's own app transactions (`kafka:T:P:table` -> last
   offset), committed atomically with the rows. A crash between the table commits and the
   batch mark replays the batch, and each table takes only what it lacks. It is also why a
   fresh query, or the Python ingest, can take over the lake from the other: a new query
   starts from the lake's positions (`startingOffsets`), not from Kafka's or the checkpoint's.

Drain-and-exit (`follow=False`): the end of every partition is fixed when the run starts;
the run stops once the lake holds everything before it. (`trigger(availableNow=True)` would
be the idiom, but Spark runs one micro-batch only with Python sources before 4.2.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake
from deltalake.exceptions import DeltaError, TableNotFoundError

from bazaar.domain.errors import BazaarError, LakeUnavailable
from bazaar.lake.batch import Polled, normalise_root, table_uri
from bazaar.lake.sources import DEFAULT_TOPIC, kafka_source_id
from bazaar.lake.storage_errors import write_failure
from bazaar.lake.tables import TABLES
from bazaar.lake.writer import LakeWriter

DEFAULT_QUERY_NAME = "bazaar-ingest"
KAFKA_SOURCES = ("python", "native")
BATCHES_TABLE = "_spark_batches"
_BATCHES_SCHEMA = pa.schema([pa.field("batch_id", pa.int64())])


@dataclass(frozen=True, slots=True)
class SparkIngestConfig:
    bootstrap: str
    lake: str
    topic: str = DEFAULT_TOPIC
    kafka_source: str = "python"  # or "native"
    kafka_options: Mapping[str, str] = field(default_factory=dict)
    storage_options: Mapping[str, str] = field(default_factory=dict)
    query_name: str = DEFAULT_QUERY_NAME
    checkpoint: str | None = None  # default: LAKE/_checkpoints/QUERY_NAME
    trigger_seconds: float = 1.0
    max_events_per_batch: int | None = 50_000

    def checkpoint_location(self) -> str:
        return self.checkpoint or table_uri(
            normalise_root(self.lake), f"_checkpoints/{self.query_name}"
        )


@dataclass(slots=True)
class SparkIngestSummary:
    query_id: str = ""
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0
    skipped_batches: int = 0  # replays of batches the lake already held
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    positions: dict[str, int] = field(default_factory=dict)
    batch_seconds: list[float] = field(default_factory=list)  # sink time per batch
    trigger_ms: list[float] = field(default_factory=list)  # Spark's micro-batch durations
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


class BatchLedger:
    """The `_spark_batches` Delta table: empty commits (no data files) whose app transaction
    records, per query, the last micro-batch landed in full."""

    def __init__(self, root: str, storage_options: Mapping[str, str]) -> None:
        uri = table_uri(root, BATCHES_TABLE)
        opts = dict(storage_options) or None
        try:
            try:
                self._table = DeltaTable(uri, storage_options=opts)
            except TableNotFoundError:
                self._table = DeltaTable.create(
                    uri, schema=_BATCHES_SCHEMA, mode="ignore", storage_options=opts
                )
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(f"cannot open {uri}: {exc}") from exc

    def landed(self, app_id: str) -> int | None:
        try:
            self._table.update_incremental()
            version: int | None = self._table.transaction_version(app_id)
            return version
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(f"cannot read {BATCHES_TABLE}: {exc}") from exc

    def mark(self, app_id: str, batch_id: int) -> None:
        # delta-rs would accept a lower version and move the mark back: only ever go up.
        held = self.landed(app_id)
        if held is not None and held >= batch_id:
            return
        try:
            write_deltalake(
                self._table,
                _BATCHES_SCHEMA.empty_table(),
                mode="append",
                commit_properties=CommitProperties(
                    app_transactions=[Transaction(app_id=app_id, version=batch_id)]
                ),
            )
        except (DeltaError, OSError) as exc:
            raise LakeUnavailable(write_failure(exc, BATCHES_TABLE)) from exc


def batch_app_id(query_id: str) -> str:
    return f"spark-ingest:{query_id}"


class LakeBatchSink:
    """The `foreachBatch` function: one micro-batch -> the lake, exactly once."""

    def __init__(self, writer: LakeWriter, ledger: BatchLedger) -> None:
        self.writer = writer
        self.ledger = ledger
        self.summary = SparkIngestSummary()
        self.landed: dict[str, int] = {}  # source -> last position the lake holds
        self.error: BaseException | None = None
        self.last_batch: int | None = None  # the last batch id landed or found landed
        self.on_batch: Callable[[SparkIngestSummary], None] | None = None
        self._query_id = ""
        self._bound = threading.Event()
        self._lock = threading.Lock()

    def bind(self, query_id: str) -> None:
        """Called with the query's id right after it starts (the first batch waits for it)."""
        self._query_id = self.summary.query_id = query_id
        self._bound.set()

    def __call__(self, frame: Any, batch_id: int) -> None:
        try:
            self._land(frame, batch_id)
        except BaseException as exc:
            self.error = exc  # for the caller: Spark wraps it in a JVM stack trace
            raise

    def _land(self, frame: Any, batch_id: int) -> None:
        if not self._bound.wait(60):
            raise BazaarError("the streaming query never reported its id")
        began = time.monotonic()
        app_id = batch_app_id(self._query_id)
        held = self.ledger.landed(app_id)
        if held is not None and batch_id <= held:
            with self._lock:
                self.summary.skipped_batches += 1
                self.last_batch = batch_id
            return
        data: pa.Table = frame.toArrow()
        result = self.writer.write(polled(data))
        self.ledger.mark(app_id, batch_id)
        took = time.monotonic() - began
        with self._lock:
            s = self.summary
            s.events += result.events
            s.duplicates += result.duplicates
            s.dead_letters += result.dead_letters
            s.batches += 1
            s.batch_seconds.append(took)
            for table, n in result.rows.items():
                s.rows[table] += n
            s.positions.update(result.positions)
            self.last_batch = batch_id
            for source, position in result.positions.items():
                self.landed[source] = max(position, self.landed.get(source, -1))
        if self.on_batch is not None:
            self.on_batch(self.summary)


def polled(data: pa.Table) -> Polled:
    """Stream rows (topic, partition, offset, value) as the Python ingest reads them,
    ordered by partition and offset so a replay decides duplicates the same way."""
    if data.num_rows == 0:
        return Polled()
    data = data.sort_by([("partition", "ascending"), ("offset", "ascending")])
    ids: dict[tuple[str, int], str] = {}
    topics, partitions = data.column("topic").to_pylist(), data.column("partition").to_pylist()
    sources = [
        ids.get(at) or ids.setdefault(at, kafka_source_id(*at))
        for at in zip(topics, partitions, strict=True)
    ]
    raws = [value or b"" for value in data.column("value").to_pylist()]
    return Polled(sources, data.column("offset").to_pylist(), raws)


def run_spark_ingest(
    config: SparkIngestConfig,
    *,
    follow: bool = False,
    stop: threading.Event | None = None,
    on_batch: Callable[[SparkIngestSummary], None] | None = None,
    master: str | None = None,
) -> SparkIngestSummary:
    """Run the query until drained (or, with `follow`, until `stop` is set)."""
    from bazaar.spark.kafka_offsets import EndProbe
    from bazaar.spark.session import spark_session
    from bazaar.spark.stream import kafka_stream, start_query

    if config.kafka_source not in KAFKA_SOURCES:
        raise ValueError(f"kafka source must be one of {', '.join(KAFKA_SOURCES)}")
    started = time.monotonic()
    spark = spark_session(master, app_name=config.query_name)
    root = normalise_root(config.lake)
    writer = LakeWriter(root, storage_options=config.storage_options).open()
    probe = EndProbe(config.bootstrap, config.topic, config.kafka_options)
    try:
        sink = LakeBatchSink(writer, BatchLedger(root, config.storage_options))
        sink.on_batch = on_batch
        partitions = probe.partitions()
        first = probe.beginnings(partitions)
        sources = {p: kafka_source_id(config.topic, p) for p in partitions}
        held = {p: writer.resume_position(sources[p]) for p in partitions}
        starting = {p: max(first[p], -1 if h is None else h + 1) for p, h in held.items()}
        targets = None if follow else probe.ends(starting)
        sink.landed = {sources[p]: h for p, h in held.items() if h is not None}

        def drained() -> bool:
            assert targets is not None
            return all(
                end <= starting[p] or sink.landed.get(sources[p], -1) >= end - 1
                for p, end in targets.items()
            )

        frame = kafka_stream(spark, config, starting)
        query = start_query(frame, sink, config)
        sink.bind(str(query.id))
        try:
            while query.isActive:
                if stop is not None and stop.is_set():
                    break
                if targets is not None and drained():
                    break
                query.awaitTermination(0.1)
        finally:
            _stop_after_landed_batches(query, sink)
            sink.summary.trigger_ms = trigger_latencies_ms(query.recentProgress)
        if sink.error is not None:
            raise sink.error
        failure = query.exception()
        if failure is not None:
            raise BazaarError(f"the streaming query failed: {failure}")
        sink.summary.seconds = time.monotonic() - started
        return sink.summary
    finally:
        probe.close()
        writer.close()


def _stop_after_landed_batches(query: Any, sink: LakeBatchSink, patience: float = 30.0) -> None:
    """Stop once Spark has recorded the last batch the sink landed as done in its checkpoint
    (stopping earlier is safe too: the restart replays that batch and the ledger skips it;
    waiting just saves the replay)."""
    deadline = time.monotonic() + patience
    while query.isActive and sink.last_batch is not None and time.monotonic() < deadline:
        progress = query.lastProgress
        if progress is not None and progress["batchId"] >= sink.last_batch:
            break
        time.sleep(0.02)
    query.stop()


def trigger_latencies_ms(query_progress: list[Any]) -> list[float]:
    """Micro-batch durations (ms) of the progress reports that read any events."""
    out = []
    for progress in query_progress:
        report = json.loads(progress.json)
        if report.get("numInputRows", 0) > 0:
            out.append(float(report["durationMs"]["triggerExecution"]))
    return out
