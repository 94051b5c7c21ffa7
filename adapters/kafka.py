"""Kafka through confluent-kafka: topic setup, a publishing producer and a reply listener for request/reply."""
from __future__ import annotations

import logging
import threading
import uuid
from typing import Callable

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic, ResourceType

from schemas import events as ev
from service_config import Settings
from service_layer.ports import Unavailable

log = logging.getLogger(__name__)


class BusUnavailable(Unavailable):
    """Kafka did not accept a message in time; the caller should answer 503 and the client retry."""


# The ledger topic is the source of truth for credits: it is never deleted by age or size.
TOPIC_CONFIGS = {ev.TOPIC_LEDGER: {"retention.ms": "-1", "retention.bytes": "-1"}}


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> None:
    """Create the project's topics if they are missing (idempotent)."""
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(settings.topic(name), num_partitions=settings.kafka_partitions, replication_factor=1,
                 config=TOPIC_CONFIGS.get(name, {}))
        for name in ev.ALL_TOPICS
        if settings.topic(name) not in existing
    ]
    _keep_configs(admin, settings, existing, timeout_s)
    if not wanted:
        return
    for topic, future in admin.create_topics(wanted, request_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        log.info("created topic %s", topic)


def _keep_configs(admin: AdminClient, settings: Settings, existing: set[str], timeout_s: float) -> None:
    """Set TOPIC_CONFIGS on topics that exist already (a Faust worker may have created them with defaults)."""
    resources = [
        ConfigResource(ResourceType.TOPIC, settings.topic(name), incremental_configs=[
            ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET) for key, value in config.items()])
        for name, config in TOPIC_CONFIGS.items()
        if settings.topic(name) in existing
    ]
    if resources:
        for future in admin.incremental_alter_configs(resources, request_timeout=timeout_s).values():
            future.result(timeout=timeout_s)


class EventPublisher:
    """Publishes events and waits for the broker's acknowledgement, so an accepted request is never lost."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._producer = Producer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                # Java's and aiokafka's (so Faust's) key hash. librdkafka's default (CRC32) would send an
                # account's commands from the front door and from the workers to different partitions, i.e. to
                # different ledger owners.
                "partitioner": "murmur2_random",
                "linger.ms": 2,
                "message.timeout.ms": int(settings.kafka_publish_timeout_s * 1000),
            }
        )
        self._timeout_s = settings.kafka_publish_timeout_s

    def publish(self, topic: str, key: str, event: ev.Event, timeout_s: float | None = None) -> None:
        timeout_s = self._timeout_s if timeout_s is None else timeout_s
        outcome: dict[str, object] = {}
        done = threading.Event()

        def on_delivery(err, _msg):
            outcome["error"] = err
            done.set()

        try:
            self._producer.produce(
                self._settings.topic(topic), key=key.encode(), value=event.encode(), on_delivery=on_delivery
            )
        except BufferError as exc:
            raise BusUnavailable("the publish queue is full") from exc
        deadline_hit = not _poll_until(self._producer, done, timeout_s)
        if deadline_hit:
            raise BusUnavailable(f"Kafka did not acknowledge {event.name} within {timeout_s:.0f}s")
        if outcome.get("error") is not None:
            raise BusUnavailable(f"Kafka refused {event.name}: {outcome['error']}")

    def close(self) -> None:
        self._producer.flush(5)


def _poll_until(producer: Producer, done: threading.Event, timeout_s: float) -> bool:
    import time

    deadline = time.monotonic() + timeout_s
    while not done.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        producer.poll(min(0.05, remaining))
    return True


class ReplyListener:
    """Reads the jobs topic from its end and wakes the request that waits for a given job's decision.

    Each front-door process reads every partition itself (assign, no consumer group), so whichever process took
    the request sees the reply. Waiters register *before* publishing, so no reply can slip past.
    """

    def __init__(self, settings: Settings, topic: str, reply_names: frozenset[str]):
        self._topic = settings.topic(topic)
        self._reply_names = reply_names
        self._consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": f"frontdoor-replies-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "auto.offset.reset": "latest",
            }
        )
        self._waiters: dict[str, tuple[threading.Event, list[ev.Event]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reply-listener", daemon=True)

    def start(self, timeout_s: float = 10.0) -> bool:
        """Start listening; returns whether it attached within ``timeout_s``. If Kafka is down it keeps trying
        in the background: paid requests then answer 503 (publish fails) or 202 (no reply seen), never hang."""
        self._thread.start()
        attached = self._ready.wait(timeout_s)
        if not attached:
            log.warning("reply listener not attached to %s yet; retrying in the background", self._topic)
        return attached

    def _attach(self) -> None:
        meta = self._consumer.list_topics(self._topic, timeout=5)
        partitions = meta.topics[self._topic].partitions
        if not partitions:
            raise KafkaException(f"topic {self._topic} has no partitions yet")
        ends = []
        for p in partitions:
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=5)
            ends.append(TopicPartition(self._topic, p, high))
        self._consumer.assign(ends)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self._ready.is_set():
                    self._attach()
                    self._ready.set()
                msg = self._consumer.poll(0.2)
            except KafkaException as exc:
                log.warning("reply listener: %s; retrying", exc)
                self._stop.wait(1.0)
                continue
            if msg is None or msg.error():
                continue
            try:
                event = ev.decode(msg.value())
            except ev.EventDecodeError:
                continue
            if event.name not in self._reply_names:
                continue
            job_id = str(event.payload.get("jobId", ""))
            with self._lock:
                waiter = self._waiters.get(job_id)
            if waiter is not None:
                waiter[1].append(event)
                waiter[0].set()

    def expect(self, job_id: str) -> Callable[[float], ev.Event | None]:
        """Register interest in ``job_id``; returns ``wait(timeout_s)`` that yields the reply or None."""
        done = threading.Event()
        box: list[ev.Event] = []
        with self._lock:
            self._waiters[job_id] = (done, box)

        def wait(timeout_s: float) -> ev.Event | None:
            try:
                done.wait(timeout_s)
                return box[0] if box else None
            finally:
                with self._lock:
                    self._waiters.pop(job_id, None)

        return wait

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._consumer.close()


def read_topic(settings: Settings, topic: str, timeout_s: float = 30.0):
    """Every record of ``topic`` from offset 0 up to its end as of the call, partition by partition, in offset
    order: yields (partition, offset, key, value). For audits; joins no consumer group, commits nothing."""
    name = settings.topic(topic)
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "enable.auto.commit": False, "enable.partition.eof": False,
                         "fetch.max.bytes": 52428800, "queued.max.messages.kbytes": 262144})
    try:
        meta = consumer.list_topics(name, timeout=timeout_s)
        if name not in meta.topics or meta.topics[name].error is not None:
            return
        for partition in sorted(meta.topics[name].partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(name, partition), timeout=timeout_s)
            if high <= low:
                continue
            consumer.assign([TopicPartition(name, partition, low)])
            position = low
            while position < high:
                # Ask for no more than is left: consume() returns as soon as that many have arrived.
                batch = consumer.consume(num_messages=min(10000, high - position), timeout=timeout_s)
                if not batch:
                    # Offsets may have holes (transaction markers, compaction): trust the consumer's position.
                    if consumer.position([TopicPartition(name, partition)])[0].offset >= high:
                        break
                    raise BusUnavailable(f"{name}[{partition}] stopped at offset {position} of {high}")
                for msg in batch:
                    if msg.error():
                        raise BusUnavailable(f"{name}[{partition}]: {msg.error()}")
                    if msg.offset() >= high:
                        position = high
                        break
                    position = msg.offset() + 1
                    yield partition, msg.offset(), msg.key(), msg.value()
            consumer.unassign()
    finally:
        consumer.close()


def group_position(settings: Settings, group_id: str, topic_name: str, partition: int,
                   timeout_s: float = 10.0) -> tuple[int | None, int, int]:
    """(the group's committed offset on the partition or None, the partition's low and high watermarks). Joins
    no group and commits nothing: asking for a group's committed offsets does not make the asker a member."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": group_id,
                         "enable.auto.commit": False})
    try:
        tp = TopicPartition(topic_name, partition)
        [found] = consumer.committed([tp], timeout=timeout_s)
        low, high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
    except KafkaException as exc:
        raise BusUnavailable(f"{topic_name}[{partition}]: {exc}") from exc
    finally:
        consumer.close()
    return (found.offset if found.offset >= 0 else None), low, high


def read_range(settings: Settings, topic_name: str, partition: int, start: int, end: int,
               timeout_s: float = 30.0) -> list[tuple[int, bytes | None, bytes | None]]:
    """The records of one partition with offsets in [start, end), as (offset, key, value). ``topic_name`` is the
    full topic name. Used to read back messages a stream processor skipped; joins no group, commits nothing."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"reader-{uuid.uuid4().hex}",
                         "enable.auto.commit": False})
    records: list[tuple[int, bytes | None, bytes | None]] = []
    try:
        consumer.assign([TopicPartition(topic_name, partition, start)])
        position = start
        while position < end:
            batch = consumer.consume(num_messages=min(1000, end - position), timeout=timeout_s)
            if not batch:
                if consumer.position([TopicPartition(topic_name, partition)])[0].offset >= end:
                    break
                raise BusUnavailable(f"{topic_name}[{partition}] stopped at offset {position} of {end}")
            for msg in batch:
                if msg.error():
                    raise BusUnavailable(f"{topic_name}[{partition}]: {msg.error()}")
                if msg.offset() >= end:
                    position = end
                    break
                records.append((msg.offset(), msg.key(), msg.value()))
                position = msg.offset() + 1
    finally:
        consumer.close()
    return records
