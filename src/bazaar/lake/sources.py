"""Event sources for ingest: the store's outbox (embedded) and a Kafka topic.

Neither keeps its own notion of progress: both are positioned from the lake's app
transactions (`LakeWriter.resume_position`), which are committed atomically with the rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from bazaar.domain.errors import BrokerUnavailable
from bazaar.lake.batch import Polled, normalise_root
from bazaar.lake.writer import LakeWriter
from bazaar.store.outbox import OutboxReader, check_contiguous

OUTBOX_SOURCE = "outbox"
HEARTBEAT_SECONDS = 5.0  # an idle consumer still records that it is alive this often


def lake_consumer(lake: str) -> str:
    """The default name under which the store records how far a lake got: one per lake, so
    two lakes following one store each hold the entries they have not landed."""
    return f"lake:{normalise_root(lake)}"


DEFAULT_TOPIC = "bazaar.events"
DEFAULT_GROUP = "bazaar-ingest"


class OutboxSource:
    """Reads `store.read_outbox_bodies(after=...)`; position = outbox seq.

    Registers as the outbox consumer `consumer` (default `lake:<lake root>`) at start, at
    the lake's position, and records each landed position, so the server releases only
    entries this lake holds."""

    def __init__(
        self,
        store: OutboxReader,
        *,
        consumer: str | None = None,
        source_id: str = OUTBOX_SOURCE,
        read_limit: int = 20_000,
        idle_sleep: float = 0.02,
    ) -> None:
        self.store = store
        self.consumer = consumer
        self.source_id = source_id
        self.read_limit = read_limit
        self.idle_sleep = idle_sleep
        self._after = 0
        self._target = 0
        self._landed = 0
        self._recorded_at = 0.0

    def start(self, writer: LakeWriter, rebalance: Callable[[Collection[str]], None]) -> None:
        self._after = self._landed = writer.resume_position(self.source_id) or 0
        if self.consumer is None:
            self.consumer = lake_consumer(writer.root)
        # Registered before the first read: from here on the outbox holds what the lake
        # lacks (the lake's own position is the truth; the store's copy never runs ahead).
        self.store.register_consumer(self.consumer, self._landed)
        self._recorded_at = time.monotonic()
        self._target = self.store.outbox_head()  # what "drain what exists now" means

    def poll(self, max_events: int, timeout: float) -> Polled:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.store.read_outbox_bodies(self._after, min(self.read_limit, max_events))
            check_contiguous(self.store, self._after, rows[0][0] if rows else None)
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(min(self.idle_sleep, max(0.0, deadline - time.monotonic())))
        if time.monotonic() - self._recorded_at >= HEARTBEAT_SECONDS:
            self._record(self._landed)
        if not rows:
            return Polled()
        self._after = rows[-1][0]
        return Polled([self.source_id] * len(rows), [r[0] for r in rows], [r[1] for r in rows])

    def caught_up(self) -> bool:
        return self._after >= self._target

    def committed(self, positions: dict[str, int]) -> None:
        seq = positions.get(self.source_id)
        if seq is not None:
            # For the store's release only (never beyond what the lake holds); the lake's
            # own app transactions stay the source of truth for resuming.
            self._landed = seq
            self._record(seq)

    def _record(self, seq: int) -> None:
        assert self.consumer is not None, "start() names the consumer"
        self.store.commit_position(self.consumer, seq)
        self._recorded_at = time.monotonic()

    def lag(self) -> int | None:
        return max(0, self.store.outbox_head() - self._after)

    def describe(self) -> str:
        return f"outbox of the store (source id {self.source_id!r})"

    def close(self) -> None:
        self.store.close()


def kafka_source_id(topic: str, partition: int) -> str:
    return f"kafka:{topic}:{partition}"


class KafkaSource:
    """A consumer-group member; position = per-partition offset, kept in the lake only.

    On every assignment the consumer seeks to the offsets recorded in the lake, so several
    ingest processes in one group split the partitions and a partition that moves between
    them resumes exactly where the lake says; Kafka's own group offsets are never committed.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        topic: str = DEFAULT_TOPIC,
        group: str = DEFAULT_GROUP,
        options: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.options = dict(options or {})
        self._consumer: Any = None
        self._writer: LakeWriter | None = None
        self._rebalance: Callable[[Collection[str]], None] = lambda _: None
        self._next: dict[int, int] = {}  # partition -> next offset to read
        self._eof: set[int] = set()
        self._source_ids: dict[int, str] = {}
        self.assignments: list[list[int]] = []  # every assignment received, for reports

    def start(self, writer: LakeWriter, rebalance: Callable[[Collection[str]], None]) -> None:
        from confluent_kafka import Consumer, KafkaException

        self._writer, self._rebalance = writer, rebalance
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "group.id": self.group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
        }
        config.update(self.options)
        try:
            self._consumer = Consumer(config)
            self._consumer.subscribe(
                [self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke
            )
        except KafkaException as exc:
            raise BrokerUnavailable(
                f"cannot consume {self.topic} at {self.bootstrap}: {exc}"
            ) from exc

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        from confluent_kafka import OFFSET_BEGINNING

        assert self._writer is not None
        self._rebalance(())  # the batch in flight lands first: positions below include it
        # Another member may have landed events of these partitions since we last looked.
        self._writer.reload_seen()
        for tp in partitions:
            landed = self._writer.resume_position(kafka_source_id(self.topic, tp.partition))
            tp.offset = OFFSET_BEGINNING if landed is None else landed + 1
            self._next[tp.partition] = max(tp.offset, 0)
        self._eof.clear()
        self.assignments.append(sorted(tp.partition for tp in partitions))
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        # Buffered events of revoked partitions are dropped, not flushed: the next owner
        # re-reads them from the lake's positions, so nothing is lost and nothing doubled.
        self._rebalance({kafka_source_id(self.topic, tp.partition) for tp in partitions})
        for tp in partitions:
            self._next.pop(tp.partition, None)
            self._eof.discard(tp.partition)
        consumer.unassign()

    def poll(self, max_events: int, timeout: float) -> Polled:
        from confluent_kafka import KafkaError, KafkaException

        try:
            messages = self._consumer.consume(min(max_events, 50_000), timeout)
        except KafkaException as exc:
            raise BrokerUnavailable(f"consuming {self.topic}: {exc}") from exc
        out = Polled()
        sources, positions, raws = out.sources, out.positions, out.raws
        ids, last, eof = self._source_ids, self._next, self._eof
        for m in messages:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    continue
                if err.fatal():
                    raise BrokerUnavailable(f"consuming {self.topic}: {err}")
                continue  # transient: librdkafka retries by itself
            partition, offset = m.partition(), m.offset()
            eof.discard(partition)
            source = ids.get(partition)
            if source is None:
                source = ids[partition] = kafka_source_id(m.topic(), partition)
            last[partition] = offset + 1
            sources.append(source)
            positions.append(offset)
            raws.append(m.value() or b"")
        return out

    def caught_up(self) -> bool:
        return bool(self._next) and self._eof >= set(self._next)

    def committed(self, positions: dict[str, int]) -> None:
        pass  # the lake is the only record of offsets

    def lag(self) -> int | None:
        from confluent_kafka import KafkaException, TopicPartition

        if self._consumer is None:
            return None
        total = 0
        try:
            for partition, nxt in self._next.items():
                tp = TopicPartition(self.topic, partition)
                _, high = self._consumer.get_watermark_offsets(tp, timeout=2.0)
                total += max(0, high - nxt)
        except KafkaException:
            return None
        return total

    def describe(self) -> str:
        return f"Kafka topic {self.topic!r} at {self.bootstrap} (group {self.group!r})"

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
