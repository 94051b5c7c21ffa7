"""The Faust application and its topics, configured from environment variables."""
from __future__ import annotations

import faust

from schemas import events as ev
from service_config import load

settings = load()

app = faust.App(
    f"{settings.kafka_topic_prefix}-workers",
    broker=f"kafka://{settings.kafka_bootstrap}",
    store="memory://",
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


def topic(name: str) -> faust.TopicT:
    return app.topic(
        settings.topic(name), key_type=bytes, value_type=bytes, partitions=settings.kafka_partitions,
        internal=False,
    )


requests_topic = topic(ev.TOPIC_REQUESTS)
ledger_topic = topic(ev.TOPIC_LEDGER)
jobs_topic = topic(ev.TOPIC_JOBS)
completions_topic = topic(ev.TOPIC_COMPLETIONS)
dead_letters_topic = topic(ev.TOPIC_DEAD_LETTERS)


async def publish(target: faust.TopicT, key: str, event: ev.Event) -> None:
    """Send and wait for the broker's acknowledgement (at-least-once: consumers are idempotent)."""
    pending = await target.send(key=key.encode(), value=event.encode())
    await pending


async def dead_letter(key: bytes | None, raw: bytes | None, reason: str) -> None:
    body = ev.Event("DeadLetter", {"reason": reason, "raw": (raw or b"").decode("utf-8", "replace")})
    pending = await dead_letters_topic.send(key=key, value=body.encode())
    await pending
