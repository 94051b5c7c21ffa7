"""The ledger's clock: releases reservations whose job never finished and applies monthly resets.

Every worker runs the timer, but a worker only looks at the accounts of the requests-topic partitions it owns
(the table holds their records). It never decides anything itself: it publishes ExpireReservations / ResetMonthly
onto the requests topic (key = account id), so they are decided in order with every other command of the account
by its owner, like any command. Their ids are deterministic (ledger/schedule.py), so a second publication, from
a later tick or from a worker that just lost the partition, decides nothing.

When an expired reservation is released, the job it paid for is marked FAILED ("timed out") on the jobs topic,
unless its view already ended: a user should see a job that will never finish end, with no charge, and a job
that did finish must not be reported failed afterwards.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from aiokafka.partitioner import murmur2

import ledger
from adapters import mongo
from ledger import records
from ledger.schedule import due_commands
from schemas import events as ev, jobs

from .app import app, jobs_topic, ledger_topic, publish, requests_topic, settings
from .ledger_agent import accounts, core_of
from .ledger_gaps import MongoProgress, handle_with_gaps

log = logging.getLogger(__name__)

INTERVAL_S = settings.ledger_timer_interval_s
# A command published less than this long ago is not published again (it is on its way to its owner).
REPUBLISH_AFTER_S = max(10.0, 3 * INTERVAL_S)
TIMED_OUT_REASON = "Timed out: the job did not finish in time; no credits were charged"

_db = mongo.connect(settings)
_published: dict[str, float] = {}  # command id -> monotonic time of its last publication
_partition_of: dict[bytes, int] = {}


def partition_of(key: bytes, partitions: int) -> int:
    """The partition every producer (aiokafka, and confluent-kafka with murmur2_random) sends `key` to."""
    partition = _partition_of.get(key)
    if partition is None:
        partition = _partition_of[key] = (murmur2(key) & 0x7FFFFFFF) % partitions
    return partition


def owned_partitions() -> set[int]:
    topic = requests_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def due_now(table, owned: set[int], now: datetime, partitions: int) -> list[ledger.Command]:
    """The commands due for the owned accounts (synchronous: the table is not changed while it is read)."""
    due: list[ledger.Command] = []
    for key in list(table.keys()):
        if not records.is_core_key(key) or partition_of(key, partitions) not in owned:
            continue
        try:
            core = core_of(table, key)
        except ledger.SerializationError:
            log.exception("ledger timer: unreadable core record for %r", key)
            continue
        if core is not None:
            due.extend(due_commands(records.deadlines(core), now))
    return due


def _recently_published(command_id: str, now_monotonic: float) -> bool:
    for stale in [c for c, at in _published.items() if now_monotonic - at > REPUBLISH_AFTER_S]:
        del _published[stale]
    return command_id in _published


async def publish_due_commands(table, now: datetime | None = None) -> list[ledger.Command]:
    owned = owned_partitions()
    if not owned:
        return []
    commands = due_now(table, owned, now or ev.utc_now(), settings.kafka_partitions)
    sent = []
    for command in commands:
        clock = time.monotonic()
        if _recently_published(command.command_id, clock):
            continue
        body = ev.Event(ev.LEDGER_COMMAND, {"accountId": command.account_id, "command": ledger.to_dict(command)},
                        id=command.command_id)
        await publish(requests_topic, command.account_id, body)
        _published[command.command_id] = clock
        sent.append(command)
        log.info("ledger timer: published %s for %s", type(command).__name__, command.account_id)
    return sent


@app.timer(interval=INTERVAL_S)
async def ledger_clock() -> None:
    await publish_due_commands(accounts)


# --- jobs whose reservation expired ----------------------------------------------------------------------------------

def expired_job(envelope: ev.Event) -> tuple[str, str] | None:
    """(account id, job id) when a ledger envelope records a reservation released because it expired."""
    if envelope.name != "ReservationReleased":
        return None
    event = envelope.payload.get("ledgerEvent") or {}
    if event.get("reason") != ledger.ReleaseReason.EXPIRED.value or not event.get("job_id"):
        return None
    return envelope.payload.get("accountId"), event["job_id"]


def timed_out_event(job: dict, account_id: str, job_id: str) -> ev.Event | None:
    """JobFailed for a job whose reservation expired, or None if its view is missing, another's, or ended."""
    if job is None or job.get("accountId") != account_id or job.get("state") in jobs.TERMINAL:
        return None
    payload = {"jobId": job_id, "accountId": account_id, "kind": job.get("kind"), "reason": TIMED_OUT_REASON}
    return ev.Event(ev.JOB_FAILED, payload, id=f"expired:{job_id}", correlation_id=job_id)


async def fail_if_expired(_key: bytes | None, raw: bytes | None) -> None:
    try:
        envelope = ev.decode(raw)
    except ev.EventDecodeError:
        return  # the credit projector dead-letters it
    found = expired_job(envelope)
    if found is None:
        return
    account_id, job_id = found
    job = await asyncio.to_thread(mongo.find_job, _db, job_id)
    failed = timed_out_event(job, account_id, job_id)
    if failed is not None:
        log.info("job %s of %s timed out: its reservation expired", job_id, account_id)
        await publish(jobs_topic, job_id, failed)


_progress = MongoProgress(_db, "ledger-expired-jobs")


@app.agent(ledger_topic)
async def fail_expired_jobs(stream):
    async for event in stream.events():
        await handle_with_gaps(event, _progress, fail_if_expired, what="expired-jobs policy")
