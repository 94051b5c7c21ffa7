"""The ledger agent's nudge (streams/ledger_agent.py, nudge_dropped_tails): a message with no command that brings
the gap check to a requests partition whose last commands Faust dropped. On the real stack: a nudge on every
partition is consumed without deciding or dead-lettering anything, and the commands after it are decided."""
from __future__ import annotations

import pytest
from confluent_kafka import Producer

from adapters import kafka
from schemas import events as ev
from service_config import load
from streams.ledger_logic import NUDGE_KEY

from .ledger_helpers import new_account, wait_audit_clean, wait_requests_committed

pytestmark = pytest.mark.integration


def test_a_nudge_is_no_command_and_the_ledger_goes_on_deciding(base_url, app_processes):
    settings = load()
    topic = settings.topic(ev.TOPIC_REQUESTS)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    offsets: dict[int, int] = {}
    for partition in range(settings.kafka_partitions):
        producer.produce(topic, key=NUDGE_KEY, value=b"", partition=partition,
                         on_delivery=lambda err, m: offsets.__setitem__(m.partition(), m.offset()) if not err else None)
    assert producer.flush(15) == 0 and len(offsets) == settings.kafka_partitions

    account = new_account(base_url, credits=100)  # its opening is decided after the nudge on its partition
    wait_requests_committed(offsets, 60, "the workers to commit every partition to its end, past the nudges",
                            lambda: app_processes["workers"].log_tail(60))
    dead = [value for _p, _o, key, value in kafka.read_topic(settings, ev.TOPIC_DEAD_LETTERS) if key == NUDGE_KEY]
    assert dead == [], dead[:1]   # not an "undecodable request"
    wait_audit_clean(account.account_id)
