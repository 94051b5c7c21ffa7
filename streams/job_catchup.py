"""Jobs Faust dropped at a worker's start or a rebalance, run anyway: the jobs topic read back from the commit.

Around table recovery Faust can fetch messages, clear its queues and never hand those messages to the agents, its
read position already past them (faust-streaming/faust#596; streams/ledger_gaps.py). The ledger's consumers notice
such a gap at the next message of the partition. A dropped job often has no next message: a clone accepted, then
started, then its worker killed ends its partition, so the job waited for the sweeper's deadline and was failed
(seen in CI: tests/integration/test_job_recovery.py). So once per consumer generation, when Faust has settled,
every assigned jobs partition is read from the group's committed offset to its end as of then, and each record
goes to the jobs topic's three consumers as Faust would have given it: the job projector and the notifier are
idempotent (a completion event published again keeps its id: consumers dedupe by it), and a job that Faust hands
over too runs once (streams/job_runs.py). Each record is then acked, so the commit can pass the messages Faust
dropped (an ack of one Faust also acks counts once).
"""
from __future__ import annotations

import asyncio
import logging
import time

from adapters import kafka

from .app import app, jobs_topic, settings, settled
from .job_runs import CatchUpClock, unread_range
from .ledger_gaps import ack_handled
from .notifier import notify_record
from .orchestrator import handle_job_record
from .projector import project_job_record

log = logging.getLogger(__name__)

_clock = CatchUpClock()
_running: set[asyncio.Task] = set()  # a reference to each catch-up, so it is not collected mid-run


async def catch_up(partition: int, generation: int) -> int:
    """Hand the unread records of one jobs partition to the jobs topic's consumers; returns how many."""
    topic = jobs_topic.get_topic_name()
    committed, low, high = await asyncio.to_thread(kafka.group_position, settings, app.conf.id, topic, partition)
    unread = unread_range(committed, low, high)
    if not unread:
        return 0
    records = await asyncio.to_thread(kafka.read_range, settings, topic, partition, unread.start, unread.stop)
    log.info("jobs catch-up: reading back %s record(s) of %s[%s] (offsets %s-%s) past the committed offset",
             len(records), topic, partition, unread.start, unread.stop - 1)
    for offset, key, value in records:
        if app.consumer_generation_id != generation:  # a rebalance: the next generation reads again
            break
        await project_job_record(key, value, dead_letters=False)  # Faust's own delivery dead-letters once
        await notify_record(key, value, dead_letters=False)
        ran = await handle_job_record(key, value, dead_letters=False)
        ack_handled(topic, partition, offset)
        if ran:
            log.info("jobs catch-up: ran job %s (%s[%s] offset %s): Faust had not handed it over, or not yet", ran,
                     topic, partition, offset)
    return len(records)


async def _catch_up_all(generation: int) -> None:
    topic = jobs_topic.get_topic_name()
    partitions = sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic)
    results = await asyncio.gather(*(catch_up(p, generation) for p in partitions), return_exceptions=True)
    for partition, result in zip(partitions, results, strict=True):
        if isinstance(result, BaseException):  # Kafka away: the next restart reads the same records again
            log.warning("jobs catch-up of partition %s failed: %s", partition, result)


@app.timer(interval=1.0)
async def jobs_catch_up() -> None:
    generation = app.consumer_generation_id
    if _clock.due(generation, settled(), time.monotonic()):
        task = asyncio.ensure_future(_catch_up_all(generation))  # runs as long as its jobs do; ticks go on
        _running.add(task)
        task.add_done_callback(_running.discard)
