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

import ledger
from adapters import mongo
from schemas import events as ev
from schemas import messages as msg

from . import clients
from .app import app, ledger_topic, requests_topic, send, settings
from .ledger_agent import accounts, cores
from .ledger_gaps import MongoProgress, handle_with_gaps
from .timer_logic import due_now, expired_job, timed_out_envelope, timed_out_event

log = logging.getLogger(__name__)

INTERVAL_S = settings.ledger_timer_interval_s
# A command published less than this long ago is not published again (it is on its way to its owner).
REPUBLISH_AFTER_S = max(10.0, 3 * INTERVAL_S)

_published: dict[str, float] = {}  # command id -> monotonic time of its last publication


def owned_partitions() -> set[int]:
    topic = requests_topic.get_topic_name()
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}


def _unreadable(key: bytes) -> None:
    log.exception("ledger timer: unreadable core record for %r", key)


def _recently_published(command_id: str, now_monotonic: float) -> bool:
    for stale in [c for c, at in _published.items() if now_monotonic - at > REPUBLISH_AFTER_S]:
        del _published[stale]
    return command_id in _published


async def publish_due_commands(table, now: datetime | None = None) -> list[ledger.Command]:
    owned = owned_partitions()
    if not owned:
        return []
    commands = due_now(table, owned, now or ev.utc_now(), settings.kafka_partitions, cores, _unreadable)
    sent = []
    for command in commands:
        clock = time.monotonic()
        if _recently_published(command.command_id, clock):
            continue
        # The envelope id is the command id, deterministic (ledger/schedule.py): a second publication is a no-op.
        message = msg.LedgerCommand.of(command)
        await send(message, message.envelope(id=command.command_id))
        _published[command.command_id] = clock
        sent.append(command)
        log.info("ledger timer: published %s for %s", command.WIRE_NAME, command.account_id)
    return sent


@app.timer(interval=INTERVAL_S)
async def ledger_clock() -> None:
    await publish_due_commands(accounts)


# --- jobs whose reservation expired ----------------------------------------------------------------------------------

async def fail_if_expired(_key: bytes | None, raw: bytes | None) -> None:
    try:
        _envelope, record = msg.read(raw)
    except ev.EventDecodeError:
        return  # the credit projector dead-letters it
    found = expired_job(record)
    if found is None:
        return
    account_id, job_id = found
    job = await asyncio.to_thread(mongo.find_speech_or_clone_job, clients.get().db, job_id)
    failed = timed_out_event(job, account_id, job_id)
    if failed is not None:
        log.info("job %s of %s timed out: its reservation expired", job_id, account_id)
        await send(failed, timed_out_envelope(failed))


_progress = MongoProgress(lambda: clients.get().db, "ledger-expired-jobs")


@app.agent(ledger_topic)
async def fail_expired_jobs(stream):
    async for event in stream.events():
        await handle_with_gaps(event, _progress, fail_if_expired, what="expired-jobs policy")
