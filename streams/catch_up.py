"""Records Faust dropped at a worker's start or a rebalance, handled anyway: the jobs, completions and webhook
attempts topics read back from the commit.

Around table recovery Faust can fetch messages, clear its queues and never hand those messages to the agents, its
read position already past them (faust-streaming/faust#596; streams/ledger_gaps.py). The ledger's consumers notice
such a gap at the next message of the partition. A dropped job often has no next message: a clone accepted, then
started, then its worker killed ends its partition, so the job waited for the sweeper's deadline and was failed
(seen in CI: tests/integration/test_job_recovery.py). A dropped completion event was a webhook never sent. So once
per consumer generation, when Faust has settled, every assigned partition of these topics is read from the group's
committed offset to its end as of then (streams/commit_head.py keeps that commit behind every dropped message), and
each record goes to the topic's consumers as Faust would have given it:
- jobs: the job projector and the notifier are idempotent (a completion event published again keeps its id:
  consumers dedupe by it), and a job that Faust hands over too runs once (streams/job_runs.py);
- completions: the webhook fan-out is idempotent (the delivery log's guard makes a second delivery of one event to
  one endpoint a no-op);
- webhook attempts: an attempt is taken up in the delivery log by one worker only, so a copy of one made or in
  flight is a no-op (the log would also queue a dropped attempt again, after a minute: this is sooner, and lets
  the commit move on).
Each record is then acked, so the commit can pass the messages Faust dropped (an ack of one Faust also acks counts
once).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from adapters import kafka

from . import commit_head
from .app import app, completions_topic, jobs_topic, settings, settled
from .job_runs import CatchUpClock, unread_range
from .ledger_gaps import ack_handled
from .notifier import notify_record
from .orchestrator import handle_job_record
from .projector import project_job_record
from .webhooks import deliver_record, deliveries_topic, fan_out_record

log = logging.getLogger(__name__)

_clock = CatchUpClock()
_running: set[asyncio.Task] = set()  # a reference to each catch-up, so it is not collected mid-run


async def hand_job_record(key: bytes | None, value: bytes | None) -> str | None:
    """A jobs record to the jobs topic's three consumers; returns the id of the job it ran, if it ran one."""
    await project_job_record(key, value, dead_letters=False)  # Faust's own delivery dead-letters once
    await notify_record(key, value, dead_letters=False)
    return await handle_job_record(key, value, dead_letters=False)


# Per topic read back, what each of its records is handed to.
READ_BACK: dict[str, Callable[[bytes | None, bytes | None], Awaitable[str | None]]] = {
    jobs_topic.get_topic_name(): hand_job_record,
    completions_topic.get_topic_name(): partial(fan_out_record, dead_letters=False),
    deliveries_topic.get_topic_name(): partial(deliver_record, dead_letters=False),
}


async def catch_up(topic: str, partition: int, generation: int) -> int:
    """Hand the unread records of one partition to the topic's consumers; returns how many."""
    committed, low, high = await asyncio.to_thread(kafka.group_position, settings, app.conf.id, topic, partition)
    unread = unread_range(committed, low, high)
    if not unread:
        return 0
    records = await asyncio.to_thread(kafka.read_range, settings, topic, partition, unread.start, unread.stop)
    log.info("catch-up: reading back %s record(s) of %s[%s] (offsets %s-%s) past the committed offset",
             len(records), topic, partition, unread.start, unread.stop - 1)
    hand = READ_BACK[topic]
    for offset, key, value in records:
        if app.consumer_generation_id != generation:  # a rebalance: the next generation reads again
            break
        ran = await hand(key, value)
        ack_handled(topic, partition, offset)
        if ran:
            log.info("catch-up: ran job %s (%s[%s] offset %s): Faust had not handed it over, or not yet", ran, topic,
                     partition, offset)
    return len(records)


async def _catch_up_all(generation: int) -> None:
    owned = sorted((tp.topic, tp.partition) for tp in app.assignor.assigned_actives() if tp.topic in READ_BACK)
    results = await asyncio.gather(*(catch_up(t, p, generation) for t, p in owned), return_exceptions=True)
    for (topic, partition), result in zip(owned, results, strict=True):
        if isinstance(result, BaseException):  # Kafka away: the next restart reads the same records again
            log.warning("catch-up of %s[%s] failed: %s", topic, partition, result)


@app.timer(interval=1.0)
async def read_back_dropped_records() -> None:
    generation = app.consumer_generation_id
    if _clock.due(generation, settled(), time.monotonic()):
        task = asyncio.ensure_future(_catch_up_all(generation))  # runs as long as its jobs do; ticks go on
        _running.add(task)
        task.add_done_callback(_running.discard)


_commit_watch = commit_head.CommitWatch(after_s=30.0)


@app.timer(interval=5.0)
async def watch_commits() -> None:
    now = time.monotonic()
    if (generation := _commit_watch.seek_overdue(app.consumer, now)) is not None:
        log.warning("Faust's seek to the committed offsets has not ended in consumer generation %s: nothing is "
                    "committed until it does. Check the worker's access to Kafka; a restart of the worker, or the "
                    "next rebalance, seeks again", generation)
    for stall in _commit_watch.look(app.consumer, now):
        log.warning("commit held back: %s. A restart of this worker hands every message from there to the agents "
                    "again (they are idempotent), the unacked ones included", stall.describe())
