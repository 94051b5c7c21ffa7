"""Example consumer of VoiceForge's public completion events (Kafka, confluent-kafka).

    python examples/completions_consumer.py --bootstrap 127.0.0.1:9092 --topic voiceforge.completions \\
        --group my-app [--from-beginning] [--account ACCOUNT_ID]

Prints one JSON line per event: {"partition", "offset", "key", "event": <the envelope>}. The contract is
schemas/completions.asyncapi.json (served at /api/asyncapi.json): speech.completed, speech.failed, voice.ready,
voice.failed, and webhook.disabled (the service disabled one of the account's webhooks), keyed by account id, so one
account's events arrive in order.

Delivery is at least once: after a worker restart the same event can arrive twice, with the same envelope `id`.
This consumer deduplicates by that id (the last ``--remember`` ids, in memory; a real application would keep
them where it keeps the effect, e.g. a unique index, so the check survives its own restarts), and commits its
offsets only after an event is handled, so it never skips one.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError


class Deduplicator:
    """Remembers the last ``size`` envelope ids; ``first_time(id)`` is False for an id seen before."""

    def __init__(self, size: int = 100_000):
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def first_time(self, event_id: str) -> bool:
        if event_id in self._seen:
            self._seen.move_to_end(event_id)
            return False
        self._seen[event_id] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


def consume(consumer: Consumer, handle: Callable[[dict], bool], *, dedupe: Deduplicator,
            timeout_s: float | None = None) -> int:
    """Poll, decode, drop duplicates and hand each new event to ``handle`` (its return True: stop). Offsets are
    committed after handling. Returns the number of events handled."""
    handled, deadline = 0, None if timeout_s is None else time.monotonic() + timeout_s
    while deadline is None or time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            if message.error().code() == KafkaError._PARTITION_EOF:
                continue
            raise RuntimeError(f"Kafka error: {message.error()}")
        try:
            envelope = json.loads(message.value())
        except ValueError:
            print(f"skipping a message that is not JSON at offset {message.offset()}", file=sys.stderr)
            consumer.commit(message=message, asynchronous=False)
            continue
        stop = False
        if dedupe.first_time(str(envelope.get("id"))):
            handled += 1
            stop = handle({"partition": message.partition(), "offset": message.offset(),
                           "key": (message.key() or b"").decode("utf-8", "replace"), "event": envelope})
        consumer.commit(message=message, asynchronous=False)  # handled (or a duplicate): never read again
        if stop:
            break
    return handled


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--topic", default=f"{os.environ.get('KAFKA_TOPIC_PREFIX', 'voiceforge')}.completions")
    parser.add_argument("--group", default="completions-example")
    parser.add_argument("--from-beginning", action="store_true", help="a new group starts at the oldest event")
    parser.add_argument("--account", help="print only this account's events")
    parser.add_argument("--until-job", help="exit once an event of this job id (correlationId) is printed")
    parser.add_argument("--timeout", type=float, help="exit after this many seconds")
    parser.add_argument("--remember", type=int, default=100_000, help="how many event ids to deduplicate against")
    args = parser.parse_args(argv)

    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "enable.auto.commit": False,
                         "auto.offset.reset": "earliest" if args.from_beginning else "latest"})
    consumer.subscribe([args.topic])

    def handle(record: dict) -> bool:
        event = record["event"]
        if args.account and (event.get("payload") or {}).get("accountId") != args.account:
            return False
        print(json.dumps(record, separators=(",", ":")), flush=True)
        return args.until_job is not None and event.get("correlationId") == args.until_job

    try:
        consume(consumer, handle, dedupe=Deduplicator(args.remember), timeout_s=args.timeout)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
