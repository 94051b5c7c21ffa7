"""Undecodable records on the jobs and completions topics (the real stack's worker): each consumer of the topic
dead-letters it once under its own name, with the original bytes, and the worker stays up —
the read-back of streams/catch_up.py hands such a record over again without dead-lettering it twice."""
from __future__ import annotations

import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer

from adapters import kafka
from schemas import events as ev
from schemas import messages as msg
from service_config import load

from .conftest import wait_for

pytestmark = pytest.mark.integration

# The consumers of each topic that dead-letter what they cannot read (the orchestrator: its speech lane only).
READERS = {ev.TOPIC_JOBS: ("projector", "notifier", "orchestrator"), ev.TOPIC_COMPLETIONS: ("webhooks",)}


def _dead_letters(settings, key: bytes) -> Counter:
    """Reasons of the dead letters of `key`, by consumer name (the reason's prefix)."""
    found: Counter = Counter()
    for _p, _o, dead_key, value in kafka.read_topic(settings, ev.TOPIC_DEAD_LETTERS):
        if dead_key == key:
            _envelope, letter = msg.read_as(value, msg.DeadLetter)
            found[letter.reason.split(":", 1)[0]] += 1
    return found


@pytest.mark.parametrize("topic", sorted(READERS))
def test_an_undecodable_record_is_dead_lettered_once_by_each_consumer(app_processes, topic):
    settings = load()
    key = f"garbage-{uuid.uuid4().hex}".encode()
    body = b"\xff not an event {"
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    producer.produce(settings.topic(topic), key=key, value=body)
    assert producer.flush(15) == 0

    expected = Counter(dict.fromkeys(READERS[topic], 1))

    def all_dead_lettered() -> Counter | None:
        found = _dead_letters(settings, key)
        return found if set(found) >= set(expected) else None

    try:
        found = wait_for(all_dead_lettered, 60, f"each consumer of {topic} to dead-letter the record")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- worker log ---\n{app_processes['workers'].log_tail(40)}") from None
    assert found == expected
    letters = [value for _p, _o, dead_key, value in kafka.read_topic(settings, ev.TOPIC_DEAD_LETTERS)
               if dead_key == key]
    assert all(msg.read_as(v, msg.DeadLetter)[1].raw == body.decode("utf-8", "replace") for v in letters)
    assert app_processes["workers"].alive()
