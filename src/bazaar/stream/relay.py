"""OutboxRelay: moves the store's outbox to a Kafka topic, in order, losing nothing.

The commit order, which is the whole delivery guarantee:

  1. read entries after the relay's confirmed position (`store.read_outbox(after=...)`);
  2. produce each, keyed by its player, to the idempotent `acks=all` producer;
  3. when delivery reports arrive, advance the confirmed position over the longest prefix
     of produced entries whose reports all succeeded (reports of different partitions
     arrive out of order; the position never skips an unconfirmed entry);
  4. `store.commit_position("relay", seq)` for that prefix, every `commit_interval`.

A crash anywhere re-sends from the last committed position: entries delivered after it
are sent again (at-least-once; consumers deduplicate on `event_id`), and none is skipped.
A failed delivery report (the broker unreachable for longer than message.timeout.ms, or a
fatal producer error) ends the session: the relay commits what was confirmed, throws the
producer away, waits with exponential backoff and resends from the confirmed position.
Meanwhile the API keeps writing to the outbox, which is the buffer.

The relay registers under its name before the first read and records its position at
least every `heartbeat` seconds even when idle, so the server's retention sweeper releases
only what it has delivered, and can tell a quiet relay from a dead one (store/retention.py).
If the entries after its position were released meanwhile (it was dropped as a consumer),
it stops with OutboxReleased instead of skipping them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bazaar.domain.errors import BazaarError, BrokerUnavailable
from bazaar.store.outbox import OutboxEntry, OutboxReader, check_contiguous
from bazaar.stream.kafka import BrokerProbe, KafkaSettings, ensure_topic

log = logging.getLogger("bazaar.relay")

RELAY_CONSUMER = "relay"  # the name under which the store keeps the confirmed position


@dataclass(frozen=True, slots=True)
class RelayStatus:
    """A snapshot for health checks and progress lines."""

    running: bool
    broker: str  # "connecting" | "up" | "unreachable"
    position: int  # last outbox seq confirmed delivered and committed
    delivered: int  # delivery reports succeeded since start (resends count again)
    in_flight: int
    retries: int  # sessions restarted after a failure
    last_error: str | None

    def to_document(self, head: int | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "running": self.running,
            "broker": self.broker,
            "position": self.position,
            "delivered": self.delivered,
            "in_flight": self.in_flight,
            "retries": self.retries,
            "last_error": self.last_error,
        }
        if head is not None:
            doc["head"] = head
            doc["lag"] = max(0, head - self.position)
        return doc


class _DeliveryFailed(Exception):
    pass


class OutboxRelay:
    def __init__(
        self,
        store: OutboxReader,
        kafka: KafkaSettings,
        *,
        consumer: str = RELAY_CONSUMER,
        read_limit: int = 10_000,
        max_in_flight: int = 100_000,
        commit_interval: float = 0.2,
        idle_wait: float = 0.02,
        stall_after: float = 3.0,
        heartbeat: float = 5.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        log_interval: float = 10.0,
    ) -> None:
        self.store = store
        self.kafka = kafka
        self.consumer = consumer
        self.read_limit = read_limit
        self.max_in_flight = max_in_flight
        self.commit_interval = commit_interval
        self.idle_wait = idle_wait
        self.stall_after = stall_after
        self.heartbeat = heartbeat
        self.backoff = backoff
        self.log_interval = log_interval
        self._lock = threading.Lock()
        self._running = False
        self._topic_ready = False
        self._broker = "connecting"
        self._position = 0
        self._delivered = 0
        self._retries = 0
        self._last_error: str | None = None
        # Session state, touched only by the relay thread (and delivery callbacks, which
        # librdkafka runs inside producer.poll/flush on that same thread).
        self._pending: deque[int] = deque()
        self._confirmed_seqs: set[int] = set()
        self._failure: str | None = None
        self._last_success = 0.0
        self._transport_down = False

    # -- observing -------------------------------------------------------------------------

    def status(self) -> RelayStatus:
        with self._lock:
            broker = self._broker
            if broker == "up" and self._stalled():
                broker = "unreachable"
            return RelayStatus(
                running=self._running,
                broker=broker,
                position=self._position,
                delivered=self._delivered,
                in_flight=len(self._pending),
                retries=self._retries,
                last_error=self._last_error,
            )

    def health(self) -> dict[str, Any]:
        """The relay section of GET /health (lag measured against the outbox head now)."""
        return self.status().to_document(head=self.store.outbox_head())

    def _stalled(self) -> bool:
        # A frozen or partitioned broker often produces no error at all (the TCP
        # connection stays up); what shows is that sends stop being confirmed.
        if self._transport_down:
            return True
        return bool(self._pending) and time.monotonic() - self._last_success > self.stall_after

    # -- running ---------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, until: int | None = None) -> None:
        """Relay until `stop` is set (or, with `until`, until the position reaches it).
        Failures of the broker or the store are retried with backoff, forever."""
        with self._lock:
            self._running = True
        delay = self.backoff[0]
        try:
            while not stop.is_set():
                delivered_before = self._delivered
                try:
                    self._translated_session(stop, until)
                    return
                except (BazaarError, _DeliveryFailed) as exc:
                    with self._lock:
                        self._retries += 1
                        self._last_error = str(exc)
                        self._broker = "unreachable"
                    if self._delivered > delivered_before:
                        delay = self.backoff[0]  # it worked for a while: start over gently
                    log.warning(
                        "relay: %s; lag %s events; retrying in %.1fs", exc, self._lag(), delay
                    )
                    if stop.wait(delay):
                        return
                    delay = min(delay * 2, self.backoff[1])
        finally:
            with self._lock:
                self._running = False

    def _lag(self) -> int | str:
        try:
            return max(0, self.store.outbox_head() - self._position)
        except BazaarError:
            return "unknown"

    def _translated_session(self, stop: threading.Event, until: int | None) -> None:
        from confluent_kafka import KafkaException

        try:
            self._session(stop, until)
        except KafkaException as exc:  # e.g. produce() refused by a producer in fatal state
            raise BrokerUnavailable(f"kafka {self.kafka.bootstrap}: {exc}") from exc

    def _session(self, stop: threading.Event, until: int | None) -> None:
        from confluent_kafka import KafkaException, Producer

        position = self.store.consumer_position(self.consumer)
        self.store.register_consumer(self.consumer, position)
        with self._lock:
            self._position = position
        if not self._topic_ready:
            ensure_topic(self.kafka)
            self._topic_ready = True
        self._pending.clear()
        self._confirmed_seqs.clear()
        self._failure = None
        self._transport_down = False
        self._last_success = time.monotonic()
        # The broker state stays "connecting"/"unreachable" until a delivery or a metadata
        # answer shows the broker is back.
        producer = Producer({**self.kafka.producer_config(), "error_cb": self._on_error})
        topic = self.kafka.topic
        read_after = confirmed = committed = position
        now = time.monotonic()
        last_commit = now
        idle_since = now - self.stall_after - 1  # an empty outbox probes the broker at once
        next_log = now + self.log_interval
        try:
            while True:
                producer.poll(0)
                confirmed = self._advance() or confirmed
                if self._failure is not None:
                    raise _DeliveryFailed(self._failure)
                now = time.monotonic()
                if (
                    confirmed > committed
                    and (now - last_commit >= self.commit_interval or not self._pending)
                ) or now - last_commit >= self.heartbeat:
                    self.store.commit_position(self.consumer, confirmed)
                    committed, last_commit = confirmed, now
                    with self._lock:
                        self._position = confirmed
                if now >= next_log:
                    next_log = now + self.log_interval
                    self._log_progress()
                if (until is not None and committed >= until) or stop.is_set():
                    return
                if len(self._pending) >= self.max_in_flight:
                    producer.poll(self.idle_wait)
                    continue
                entries = self.store.read_outbox(read_after, self.read_limit)
                check_contiguous(self.store, read_after, entries[0].seq if entries else None)
                if entries:
                    self._produce(producer, topic, entries)
                    read_after = entries[-1].seq
                    idle_since = now
                    continue
                producer.poll(self.idle_wait)
                if not self._pending and now - idle_since > self.stall_after:
                    # Nothing to send shows nothing about the broker: ask it directly.
                    idle_since = now
                    try:
                        producer.list_topics(topic, timeout=1.0)
                        self._transport_down = False
                        with self._lock:
                            self._broker = "up"
                    except KafkaException:
                        self._transport_down = True
        finally:
            # Stopping (or failing): give in-flight sends a moment, then record every
            # confirmed entry so a restart resends as little as possible.
            producer.flush(2.0 if self._failure is None else 0.5)
            confirmed = self._advance() or confirmed
            if confirmed > committed:
                try:
                    self.store.commit_position(self.consumer, confirmed)
                    with self._lock:
                        self._position = confirmed
                except BazaarError:
                    log.warning("relay: could not record position %d; it will resend", confirmed)

    def _produce(self, producer: Any, topic: str, entries: list[OutboxEntry]) -> None:
        # The hot loop (one pass per event): locals only, and the codec's mapping inlined:
        # value = the outbox body as is, key = the entry's player id (kafka.message_*).
        produce, on_delivery, pending = producer.produce, self._on_delivery, self._pending
        if not pending:
            self._last_success = time.monotonic()  # the stall clock starts at the first send
        for entry in entries:
            callback = partial(on_delivery, entry.seq)
            while True:
                try:
                    produce(topic, entry.body, entry.key, on_delivery=callback)
                    break
                except BufferError:  # local queue full: let the broker take some first
                    producer.poll(0.05)
            pending.append(entry.seq)

    def _on_delivery(self, seq: int, err: Any, msg: Any) -> None:
        if err is None:
            self._confirmed_seqs.add(seq)
        elif self._failure is None:
            self._failure = f"delivery of outbox seq {seq} failed: {err.str()}"

    def _on_error(self, err: Any) -> None:
        from confluent_kafka import KafkaError

        code = err.code()
        if err.fatal():
            self._failure = f"fatal producer error: {err.str()}"
        elif code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            self._transport_down = True
        log.info("kafka: %s", err.str())

    def _advance(self) -> int | None:
        """Pop the confirmed prefix of produced entries; the last seq popped, if any."""
        pending, done = self._pending, self._confirmed_seqs
        last = None
        count = 0
        while pending and pending[0] in done:
            last = pending.popleft()
            done.discard(last)
            count += 1
        if count:
            self._last_success = time.monotonic()
            self._transport_down = False
            with self._lock:
                self._delivered += count
                self._broker = "up"
                self._last_error = None
        return last

    def _log_progress(self) -> None:
        status = self.status()
        lag = self._lag()
        level = logging.WARNING if status.broker != "up" else logging.INFO
        log.log(level, "relay: position %d, lag %s, broker %s", status.position, lag, status.broker)


class BackgroundRelay:
    """An OutboxRelay on a daemon thread, for `bazaar serve --kafka` (one per store: the
    serve process runs it once, in the supervisor when there are several workers)."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._stop,), name="bazaar-relay", daemon=True
        )

    def _run(self, stop: threading.Event) -> None:
        try:
            self.relay.run(stop)
        except Exception:  # a config error: say so, the API keeps serving
            log.exception("relay stopped; events stay in the outbox until it runs again")

    def start(self) -> BackgroundRelay:
        self._thread.start()
        return self

    def health(self) -> dict[str, Any]:
        return {"relay": self.relay.health()}

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout=timeout)


def worker_health_provider(
    store: OutboxReader, kafka: KafkaSettings
) -> Callable[[], dict[str, Any]]:
    """The relay section of GET /health in a process that does not run the relay (a
    worker of `serve --workers N`): lag from the position the relay committed in the
    store; broker state from this process's own metadata request (plain bootstrap: the
    --kafka-config passthrough stays in the supervisor, so behind SASL/SSL it reads
    "unreachable"; the supervisor's log has the relay's own view)."""
    probe = BrokerProbe(kafka)

    def provide() -> dict[str, Any]:
        position = store.consumer_position(RELAY_CONSUMER)
        head = store.outbox_head()
        relay = {"broker": probe.state(), "position": position, "head": head}
        relay["lag"] = max(0, head - position)
        return {"relay": relay}

    return provide
