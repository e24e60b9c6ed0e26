"""Kafka offsets as the Spark ingest needs them: exact partition ends, and ranges read back.

Plain confluent-kafka, no pyspark: the stream source (kafka_source.py) calls these on the
driver (`EndProbe`) and on executors (`read_range`), the drain-and-exit loop calls them
before Spark starts.

Why a probe and not `get_watermark_offsets`: a ListOffsets answer is not trustworthy on every
Kafka-protocol broker (Tansu answers the base offset of the last record batch plus one: 1 for
a partition holding 1,000 events produced in one batch), while the high-water mark in a Fetch
response is. So the probe assigns every partition at its last known end, waits until the
broker answered one fetch for each (a message or an end-of-partition event), reads the
watermarks librdkafka cached from those answers, and unassigns before it prefetches more.
It costs one fetch round trip per call (about 0.1 s here) and works on Apache Kafka as well.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from bazaar.domain.errors import BrokerUnavailable

# Bounded prefetch: the probe wants the fetch's watermark, not the events.
_PROBE_SETTINGS: dict[str, Any] = {
    "enable.partition.eof": True,
    "enable.auto.commit": False,
    "queued.min.messages": 1,
    "fetch.queue.backoff.ms": 1,  # else a full queue (1 message) delays the next probe by 1 s
    "max.partition.fetch.bytes": 65_536,
    "fetch.wait.max.ms": 10,
    "log_level": 3,
}
_READ_SETTINGS: dict[str, Any] = {
    "enable.partition.eof": True,
    "enable.auto.commit": False,
    # A range the lake has not landed but the broker already deleted is lost data: fail.
    "auto.offset.reset": "error",
    "fetch.wait.max.ms": 50,
    "log_level": 3,
}
READ_BATCH_ROWS = 10_000


def consumer_config(
    bootstrap: str, options: Mapping[str, str], settings: Mapping[str, Any]
) -> dict[str, Any]:
    """librdkafka settings: ours, then the operator's (`--kafka-option`) on top. A group id
    is required to build a consumer; it never joins (partitions are assigned by hand, which
    takes ~0.1 s where joining a group takes seconds) and never commits."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": "bazaar-spark-ingest",
        **settings,
        **options,
    }


class EndProbe:
    """Finds where each partition of a topic ends, exactly (see the module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        options: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        from confluent_kafka import Consumer, KafkaException

        self.topic = topic
        self.timeout = timeout
        try:
            self._consumer = Consumer(consumer_config(bootstrap, options or {}, _PROBE_SETTINGS))
        except KafkaException as exc:
            raise BrokerUnavailable(f"cannot consume {topic} at {bootstrap}: {exc}") from exc
        self._bootstrap = bootstrap

    def partitions(self) -> list[int]:
        from confluent_kafka import KafkaException

        deadline = time.monotonic() + self.timeout
        while True:
            try:
                meta = self._consumer.list_topics(self.topic, timeout=5).topics.get(self.topic)
            except KafkaException as exc:
                raise BrokerUnavailable(f"cannot reach Kafka at {self._bootstrap}: {exc}") from exc
            if meta is not None and meta.error is None and meta.partitions:
                return sorted(meta.partitions)
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"topic {self.topic!r} not found at {self._bootstrap}")
            time.sleep(0.2)

    def beginnings(self, partitions: list[int]) -> dict[int, int]:
        """The first offset still held per partition (retention moves it forward)."""
        from confluent_kafka import KafkaException, TopicPartition

        try:
            return {
                p: int(self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), 5)[0])
                for p in partitions
            }
        except KafkaException as exc:
            raise BrokerUnavailable(f"listing offsets of {self.topic}: {exc}") from exc

    def ends(self, known: Mapping[int, int]) -> dict[int, int]:
        """The offset after the last event of each partition in `known` (partition -> an
        offset at or before its end, e.g. the end found last time)."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        if not known:
            return {}
        consumer = self._consumer
        try:
            consumer.assign([TopicPartition(self.topic, p, max(0, o)) for p, o in known.items()])
            answered: set[int] = set()
            deadline = time.monotonic() + self.timeout
            while answered < set(known):
                if time.monotonic() > deadline:
                    raise BrokerUnavailable(
                        f"no fetch answer from {self.topic} partitions"
                        f" {sorted(set(known) - answered)} in {self.timeout:.0f} s"
                    )
                for message in consumer.consume(1_000, 0.1):
                    err = message.error()
                    if err is not None and err.code() != KafkaError._PARTITION_EOF:
                        if err.fatal() or err.code() == KafkaError.OFFSET_OUT_OF_RANGE:
                            raise BrokerUnavailable(f"probing {self.topic}: {err}")
                        continue
                    answered.add(message.partition() or 0)
            ends = {}
            for p, start in known.items():
                high = consumer.get_watermark_offsets(TopicPartition(self.topic, p), cached=True)[1]
                ends[p] = max(int(high), start)
            return ends
        except KafkaException as exc:
            raise BrokerUnavailable(f"probing the end of {self.topic}: {exc}") from exc
        finally:
            with contextlib.suppress(KafkaException):
                consumer.unassign()

    def close(self) -> None:
        self._consumer.close()


def read_range(
    bootstrap: str,
    topic: str,
    partition: int,
    start: int,
    end: int,
    options: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> Iterator[tuple[list[int], list[bytes]]]:
    """Offsets and values of events in [start, end) of one partition, in chunks. Offsets
    may skip numbers (transaction markers, compaction); the range ends at `end` either way."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

    try:
        consumer = Consumer(consumer_config(bootstrap, options or {}, _READ_SETTINGS))
    except KafkaException as exc:
        raise BrokerUnavailable(f"cannot consume {topic} at {bootstrap}: {exc}") from exc
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        offsets: list[int] = []
        values: list[bytes] = []
        position = start
        quiet_since = time.monotonic()
        while position < end:
            messages = consumer.consume(min(READ_BATCH_ROWS, end - position), 0.2)
            if not messages and time.monotonic() - quiet_since > timeout:
                raise BrokerUnavailable(
                    f"{topic}[{partition}] stopped at offset {position} before {end}"
                )
            for message in messages:
                err = message.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        position = max(position, message.offset() or 0)
                        continue
                    raise BrokerUnavailable(f"reading {topic}[{partition}]: {err}")
                offset = message.offset() or 0
                if offset >= end:
                    position = end
                    break
                offsets.append(offset)
                values.append(message.value() or b"")
                position = offset + 1
                quiet_since = time.monotonic()
            if len(offsets) >= READ_BATCH_ROWS:
                yield offsets, values
                offsets, values = [], []
        if offsets:
            yield offsets, values
    except KafkaException as exc:
        raise BrokerUnavailable(f"reading {topic}[{partition}]: {exc}") from exc
    finally:
        consumer.close()
