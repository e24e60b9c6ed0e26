"""The Kafka adapter: client configuration, topic creation, broker probing.

Works with any Kafka-protocol broker (Apache Kafka, Redpanda, Tansu). Anything a secured
cluster needs (SASL, SSL, client ids, ...) is passed through verbatim as librdkafka
properties (`--kafka-config security.protocol=SASL_SSL --kafka-config sasl.mechanism=...`),
to the producer, the admin client and the probe alike.

The producer is idempotent with `acks=all`: a retried batch is never written twice and a
write is confirmed only once every in-sync replica has it; those two are refused if a
passthrough tries to weaken them, because the relay's no-loss promise rests on them.
confluent-kafka errors are translated here into BrokerUnavailable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bazaar.domain.errors import BrokerUnavailable
from bazaar.store.outbox import OutboxEntry

log = logging.getLogger("bazaar.kafka")


# One message per event, no headers: the value is the outbox body as is (never re-encoded),
# the key the player whose order the event belongs to (`Event.key`), so every event of one
# player lands in one partition, in commit order. The relay's hot loop inlines these two.
def message_key(entry: OutboxEntry) -> bytes:
    return entry.key.encode()


def message_value(entry: OutboxEntry) -> bytes:
    return bytes(entry.body)


DEFAULT_TOPIC = "bazaar.events"
DEFAULT_PARTITIONS = 6

# Throughput comes from big, compressed batches: linger a little so batches fill, and let
# many messages be in flight. message.timeout.ms bounds how long a send may wait for the
# broker before its delivery report fails and the relay backs off and resends from its
# confirmed position (duplicates possible, loss not).
PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 20,
    "batch.size": 1_000_000,
    "batch.num.messages": 10_000,
    "compression.type": "zstd",
    "queue.buffering.max.messages": 200_000,
    "queue.buffering.max.kbytes": 262_144,
    "message.timeout.ms": 30_000,
    "socket.keepalive.enable": True,
}

# Properties the no-loss promise rests on: (the value to name in errors, values accepted).
_GUARDED = {
    "enable.idempotence": ("true", {"true", "True", "1"}),
    "acks": ("all", {"all", "-1"}),
}


def parse_kafka_config(pairs: Sequence[str]) -> dict[str, str]:
    """`key=value` strings (from repeated --kafka-config flags) as librdkafka properties."""
    config: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--kafka-config expects key=value, got {pair!r}")
        config[key.strip()] = value
    for key, (needed, allowed) in _GUARDED.items():
        if key in config and config[key] not in allowed:
            raise ValueError(
                f"--kafka-config {key}={config[key]} would let events be lost or duplicated"
                f" by the broker; the relay needs {key}={needed}"
            )
    return config


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    bootstrap: str  # host:port[,host:port...]
    topic: str = DEFAULT_TOPIC
    partitions: int = DEFAULT_PARTITIONS
    replication: int = -1  # -1: the broker's default.replication.factor
    extra: Mapping[str, Any] = field(default_factory=dict)  # passthrough: SASL/SSL, oauth_cb

    def client_config(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap, "logger": log, **self.extra}

    def producer_config(self) -> dict[str, Any]:
        return {**PRODUCER_DEFAULTS, **self.client_config()}


def _kafka_error(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and hasattr(args[0], "str"):
        return str(args[0].str())
    return str(exc)


def ensure_topic(settings: KafkaSettings, *, timeout: float = 10.0) -> bool:
    """Create the topic when missing; True if this call created it.

    An existing topic is used as it is (its partition count is not changed: repartitioning
    would move keys to other partitions and break per-player order for readers).
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient(settings.client_config())
    try:
        # All topics, not this one by name: asking for one topic lets a broker with
        # auto-creation on create it with its default partition count.
        found = admin.list_topics(timeout=timeout).topics.get(settings.topic)
        if found is not None and found.error is None and found.partitions:
            return False
        new = NewTopic(settings.topic, settings.partitions, settings.replication)
        futures = admin.create_topics([new], operation_timeout=timeout, request_timeout=timeout)
        try:
            futures[settings.topic].result(timeout=timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                return False  # another relay or an operator won the race
            raise
        log.info("created topic %s with %d partitions", settings.topic, settings.partitions)
        return True
    except KafkaException as exc:
        raise BrokerUnavailable(f"kafka {settings.bootstrap}: {_kafka_error(exc)}") from exc
    except TimeoutError as exc:  # concurrent.futures.TimeoutError is TimeoutError (3.11)
        raise BrokerUnavailable(f"kafka {settings.bootstrap}: no answer in {timeout}s") from exc


class BrokerProbe:
    """Answers "can the broker be reached?" with a metadata request, cached for `ttl`
    seconds so a busy health endpoint does not turn into load on the cluster."""

    def __init__(self, settings: KafkaSettings, *, timeout: float = 1.0, ttl: float = 2.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.ttl = ttl
        self._lock = threading.Lock()
        self._checked = -float("inf")
        self._state = "unknown"
        self._admin: Any = None

    def state(self) -> str:
        """ "up" or "unreachable"."""
        with self._lock:
            if time.monotonic() - self._checked < self.ttl:
                return self._state
            from confluent_kafka import KafkaException
            from confluent_kafka.admin import AdminClient

            if self._admin is None:
                self._admin = AdminClient(self.settings.client_config())
            try:
                self._admin.list_topics(self.settings.topic, timeout=self.timeout)
                self._state = "up"
            except KafkaException:
                self._state = "unreachable"
            self._checked = time.monotonic()
            return self._state


def check_client_config(settings: KafkaSettings) -> None:
    """Raise ValueError for a property librdkafka does not accept (a typo in
    --kafka-config), before anything starts; connects to nothing."""
    from confluent_kafka import KafkaException, Producer

    try:
        Producer(settings.producer_config())
    except KafkaException as exc:
        raise ValueError(f"kafka configuration: {_kafka_error(exc)}") from exc
