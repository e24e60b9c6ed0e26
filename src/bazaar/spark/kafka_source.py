"""`bazaar_kafka`: the event topic as a Spark stream, via Spark 4's Python Data Source API.

Spark's own Kafka source is a Maven package (spark-sql-kafka) that is not always at hand;
this one needs only confluent-kafka on the driver and the executors. Importing this module
imports pyspark: only the Spark ingest does.

Offsets are per partition, `{"0": next_offset, "1": next_offset, ...}` (JSON keys are
strings). Spark journals each micro-batch's [start, end) in its checkpoint before running
it, so a batch replayed after a crash reads exactly the same events. Where a new query
starts is the lake's business, not Kafka's: the option `startingOffsets` (JSON, partition ->
offset) comes from the lake's positions, and any partition it lacks starts at its beginning.

Rows: `topic string, partition int, offset long, value binary`, the columns Spark's native
Kafka source has too, so the sink serves both. Options:

    kafka.bootstrap.servers   HOST:PORT[,...]   (required)
    subscribe                 the topic         (required)
    startingOffsets           JSON              (default: every partition from its beginning)
    maxEventsPerBatch         cap per micro-batch, split over partitions by their backlog
    kafka.<setting>           any librdkafka consumer setting (e.g. kafka.security.protocol)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import ReadAllAvailable, ReadLimit, ReadMaxRows
from pyspark.sql.types import StructType

from bazaar.spark.kafka_offsets import EndProbe, read_range

SOURCE_NAME = "bazaar_kafka"
SCHEMA = "topic string, partition int, offset long, value binary"
_ARROW_SCHEMA = pa.schema(
    [
        pa.field("topic", pa.string()),
        pa.field("partition", pa.int32()),
        pa.field("offset", pa.int64()),
        pa.field("value", pa.binary()),
    ]
)
_RESERVED = {"kafka.bootstrap.servers"}


def kafka_settings(options: Mapping[str, str]) -> dict[str, str]:
    """librdkafka settings among the source's options (`kafka.` prefix removed)."""
    return {
        key[len("kafka.") :]: value
        for key, value in options.items()
        if key.lower().startswith("kafka.") and key.lower() not in _RESERVED
    }


class KafkaRange(InputPartition):
    """One Spark task: events [start, end) of one Kafka partition."""

    def __init__(self, partition: int, start: int, end: int) -> None:
        super().__init__((partition, start, end))
        self.partition, self.start, self.end = partition, start, end


class KafkaEventSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return KafkaEventReader(dict(self.options))


class KafkaEventReader(DataSourceStreamReader):
    """Lives on the driver between micro-batches (offsets); `read` runs on executors."""

    def __init__(self, options: Mapping[str, str]) -> None:
        lowered = {k.lower(): v for k, v in options.items()}
        try:
            self.bootstrap = lowered["kafka.bootstrap.servers"]
            self.topic = lowered["subscribe"]
        except KeyError as exc:
            raise ValueError(f"the {SOURCE_NAME} source needs the option {exc}") from None
        self.settings = kafka_settings(options)
        starting = json.loads(lowered.get("startingoffsets") or "{}")
        self.starting = {int(p): int(o) for p, o in starting.items()}
        cap = lowered.get("maxeventsperbatch")
        self.max_events = int(cap) if cap else None
        self._probe: EndProbe | None = None

    def _end_probe(self) -> EndProbe:
        if self._probe is None:
            self._probe = EndProbe(self.bootstrap, self.topic, self.settings)
        return self._probe

    def initialOffset(self) -> dict[str, int]:
        probe = self._end_probe()
        partitions = probe.partitions()
        first = probe.beginnings(partitions)
        return {str(p): max(self.starting.get(p, first[p]), first[p]) for p in partitions}

    def getDefaultReadLimit(self) -> ReadLimit:
        return ReadMaxRows(self.max_events) if self.max_events else ReadAllAvailable()

    # `start` and `limit` arrive from Spark 4.2 on (admission control); older Spark calls
    # latestOffset() bare and gets everything available.
    def latestOffset(
        self, start: dict[str, int] | None = None, limit: Any = None
    ) -> dict[str, int]:
        probe = self._end_probe()
        known = {int(p): int(o) for p, o in (start or {}).items()}
        # Partitions added to the topic since the query started begin at their beginning.
        new = [p for p in probe.partitions() if p not in known]
        if new:
            known.update(probe.beginnings(new))
        ends = probe.ends(known)
        if isinstance(limit, ReadMaxRows):
            ends = _capped(known, ends, int(limit.max_rows))
        return {str(p): o for p, o in sorted(ends.items())}

    def reportLatestOffset(self) -> dict[str, int] | None:
        return None

    def partitions(self, start: dict[str, int], end: dict[str, int]) -> list[KafkaRange]:
        ranges = []
        for key, stop in sorted(end.items(), key=lambda kv: int(kv[0])):
            begin = int(start.get(key, stop))
            if int(stop) > begin:
                ranges.append(KafkaRange(int(key), begin, int(stop)))
        return ranges

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, KafkaRange)
        for offsets, values in read_range(
            self.bootstrap,
            self.topic,
            partition.partition,
            partition.start,
            partition.end,
            self.settings,
        ):
            n = len(offsets)
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array([self.topic] * n, pa.string()),
                    pa.array([partition.partition] * n, pa.int32()),
                    pa.array(offsets, pa.int64()),
                    pa.array(values, pa.binary()),
                ],
                schema=_ARROW_SCHEMA,
            )

    def commit(self, end: dict[str, int]) -> None:
        pass  # the lake records what landed, in the same commits as the rows

    def stop(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None


def _capped(start: Mapping[int, int], ends: Mapping[int, int], cap: int) -> dict[int, int]:
    """At most `cap` events in all, shared between partitions in proportion to their
    backlog (as Spark's Kafka source does with maxOffsetsPerTrigger); each partition with a
    backlog advances by at least one, so a small cap never stalls a partition."""
    backlog = {p: ends[p] - start[p] for p in ends}
    total = sum(backlog.values())
    if total <= cap:
        return dict(ends)
    return {p: start[p] + (max(1, n * cap // total) if n else 0) for p, n in backlog.items()}
