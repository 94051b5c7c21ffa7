"""The Faust application and its topics, configured from environment variables."""
from __future__ import annotations

import faust

from schemas import events as ev
from schemas import messages as msg
from service_config import load

from . import commit_head

settings = load()
commit_head.install()  # Faust's own rule can commit past a job still running (streams/commit_head.py)

app = faust.App(
    f"{settings.kafka_topic_prefix}-workers",
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
    # Faust makes "<datadir>/v1/tables" even for memory tables: under the stack's state directory, not the
    # working directory (its default, "{conf.id}-data"). The worker entry point creates the parent.
    datadir=str(settings.stack_dir / "faust" / "{conf.id}-data"),
    topic_partitions=settings.kafka_partitions,
    topic_replication_factor=1,
    key_serializer="raw",
    value_serializer="raw",
    web_host="127.0.0.1",
    web_port=settings.worker_web_port,
    web_in_thread=False,
    broker_commit_every=100,
    broker_commit_interval=1.0,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
)


def topic(name: str, maxsize: int | None = None) -> faust.TopicT:
    """``maxsize``: events an agent reading it may buffer (default Faust's ``stream_buffer_maxsize``). The Topic
    class is called as ``app.topic`` calls it, which does not pass ``maxsize`` on (faust-streaming 0.15)."""
    return app.conf.Topic(
        app, topics=[settings.topic(name)], key_type=bytes, value_type=bytes, partitions=settings.kafka_partitions,
        internal=False, maxsize=maxsize,
    )


requests_topic = topic(ev.TOPIC_REQUESTS)
ledger_topic = topic(ev.TOPIC_LEDGER)
jobs_topic = topic(ev.TOPIC_JOBS)
# The jobs topic as the enrolment lane reads it: a deeper buffer, so that a backlog of enrolments does not stop the
# partition's fetching for every other agent (service_config: enrol_lane_buffer)
enrolment_lane_topic = topic(ev.TOPIC_JOBS, maxsize=settings.enrol_lane_buffer)
completions_topic = topic(ev.TOPIC_COMPLETIONS)
dead_letters_topic = topic(ev.TOPIC_DEAD_LETTERS)


TOPICS = {ev.TOPIC_REQUESTS: requests_topic, ev.TOPIC_LEDGER: ledger_topic, ev.TOPIC_JOBS: jobs_topic,
          ev.TOPIC_COMPLETIONS: completions_topic, ev.TOPIC_DEAD_LETTERS: dead_letters_topic}


async def send(message: msg.Message, envelope: ev.Event | None = None, *, wait: bool = True) -> None:
    """Send a message to its topic under its key (``envelope``: when its id or time is fixed by the caller).
    ``wait``: until the broker has acknowledged it (at-least-once: consumers are idempotent)."""
    envelope = envelope if envelope is not None else message.envelope()
    pending = await TOPICS[message.TOPIC].send(key=message.key().encode(), value=envelope.encode())
    if wait:
        await pending


async def dead_letter(key: bytes | None, raw: bytes | None, reason: str) -> None:
    body = msg.DeadLetter(reason=reason, raw=(raw or b"").decode("utf-8", "replace"))
    pending = await dead_letters_topic.send(key=key, value=body.envelope().encode())
    await pending


async def read_record(key: bytes | None, raw: bytes | None, consumer: str, *,
                      dead_letters: bool = True) -> tuple[ev.Event, msg.Message] | None:
    """A record's envelope and message; None when it does not decode, dead-lettered under ``consumer``'s name
    unless ``dead_letters`` is False (a read-back record: Faust's own delivery of it dead-letters it once)."""
    try:
        return msg.read(raw)
    except ev.EventDecodeError as exc:
        if dead_letters:
            await dead_letter(key, raw, f"{consumer}: {exc}")
        return None


def settled() -> bool:
    """Faust is past its start or rebalance: no rebalance running, tables recovered, the consumer flowing."""
    return not app.rebalancing and not getattr(app, "in_recovery", False) and app.flow_control.is_active()
