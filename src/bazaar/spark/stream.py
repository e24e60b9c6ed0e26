"""The streaming query's two ends on the Spark side: the Kafka stream and its start.

`kafka_stream` gives the same four columns (topic, partition, offset, value) from either
source: `python` (bazaar_kafka, kafka_source.py: confluent-kafka on the executors) or
`native` (Spark's own `kafka` source, which needs the spark-sql-kafka package on the
classpath: `spark-submit --packages org.apache.spark:spark-sql-kafka-0-10_2.13:VERSION`).

The query's settings arrive as `StreamSettings`, the shape this module reads, which the
lake's `SparkIngestConfig` satisfies without spark/ importing the lake (spark/ sits below
lake/: the lake's Spark ingest uses it, never the other way).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bazaar.domain.errors import SparkUnavailable

COLUMNS = ("topic", "partition", "offset", "value")
NATIVE_PACKAGE = "org.apache.spark:spark-sql-kafka-0-10_2.13:{version}"


class StreamSettings(Protocol):
    """What the stream and its query read of an ingest's settings."""

    @property
    def bootstrap(self) -> str: ...
    @property
    def topic(self) -> str: ...
    @property
    def kafka_source(self) -> str: ...  # "python" or "native"
    @property
    def kafka_options(self) -> Mapping[str, str]: ...
    @property
    def query_name(self) -> str: ...
    @property
    def trigger_seconds(self) -> float: ...
    @property
    def max_events_per_batch(self) -> int | None: ...
    def checkpoint_location(self) -> str: ...


def kafka_stream(spark: Any, config: StreamSettings, starting: Mapping[int, int]) -> Any:
    """A streaming DataFrame of the topic's events. `starting` (partition -> offset) applies
    to a new query only; a query restarted from its checkpoint resumes where it stopped."""
    if config.kafka_source == "native":
        return _native_stream(spark, config, starting)
    from bazaar.spark.kafka_source import SOURCE_NAME, KafkaEventSource

    spark.dataSource.register(KafkaEventSource)
    reader = (
        spark.readStream.format(SOURCE_NAME)
        .option("kafka.bootstrap.servers", config.bootstrap)
        .option("subscribe", config.topic)
        .option("startingOffsets", json.dumps({str(p): o for p, o in starting.items()}))
    )
    if config.max_events_per_batch:
        reader = reader.option("maxEventsPerBatch", str(config.max_events_per_batch))
    for key, value in config.kafka_options.items():
        reader = reader.option(f"kafka.{key}", value)
    return reader.load()


def _native_stream(spark: Any, config: StreamSettings, starting: Mapping[int, int]) -> Any:
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", config.bootstrap)
        .option("subscribe", config.topic)
        .option(
            "startingOffsets",
            json.dumps({config.topic: {str(p): o for p, o in starting.items()}}),
        )
        # Events the lake has not landed but the broker deleted: stop, do not skip them.
        .option("failOnDataLoss", "true")
    )
    if config.max_events_per_batch:
        reader = reader.option("maxOffsetsPerTrigger", str(config.max_events_per_batch))
    for key, value in config.kafka_options.items():
        reader = reader.option(f"kafka.{key}", value)  # Java client setting names
    try:
        frame = reader.load()
    except Exception as exc:  # AnalysisException or a Py4J error, depending on the version
        if "kafka" not in str(exc).lower():
            raise
        package = NATIVE_PACKAGE.format(version=spark.version)
        raise SparkUnavailable(
            "Spark's native Kafka source is not on the classpath: start with "
            f"`spark-submit --packages {package}` (or spark.jars.packages={package}), "
            "or use --kafka-source python"
        ) from exc
    return frame.select(*COLUMNS)


def start_query(frame: Any, sink: Callable[[Any, int], None], config: StreamSettings) -> Any:
    """Start the query: foreachBatch(sink), checkpoint, processing-time trigger."""
    seconds = max(0.0, config.trigger_seconds)
    return (
        frame.writeStream.queryName(config.query_name)
        .foreachBatch(sink)
        .option("checkpointLocation", config.checkpoint_location())
        .trigger(processingTime=f"{int(seconds * 1000)} milliseconds")
        .start()
    )
