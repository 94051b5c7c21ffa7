"""Materialises job and credit views into MongoDB from the jobs and ledger topics (idempotent)."""
from __future__ import annotations

import asyncio
import logging

import ledger
from adapters import mongo
from ledger.history import entry_document
from schemas import events as ev
from schemas import messages as msg

from . import clients
from .app import app, dead_letter, jobs_topic, ledger_topic
from .ledger_gaps import MongoProgress, handle_with_gaps
from .projection_logic import JobEvent, is_clone_event, job_view_fields, target_state, voice_used, voice_view_fields

log = logging.getLogger(__name__)


@app.task
async def _prepare_indexes() -> None:
    await asyncio.to_thread(mongo.ensure_indexes, clients.get().db)


def project_job_event(db, envelope: ev.Event, event: msg.Message) -> bool:
    target = target_state(event)
    if target is None:
        return False
    assert isinstance(event, JobEvent)  # target_state is None for anything else
    at = ev.parse_iso(envelope.occurred_at)
    if is_clone_event(event):  # a clone job's view is its voice
        fields, seed = voice_view_fields(event, at)
        return mongo.apply_voice_transition(db, event.job_id, target, fields, seed)
    fields, seed = job_view_fields(event, at)
    changed = mongo.apply_job_transition(db, event.job_id, target, fields, seed)
    voice_id = voice_used(event)
    if changed and voice_id:
        mongo.increment_voice_usage(db, voice_id, event.job_id)
    return changed


async def project_job_record(key: bytes | None, value: bytes | None, *, dead_letters: bool = True) -> None:
    try:
        envelope, job_event = msg.read(value)
        await asyncio.to_thread(project_job_event, clients.get().db, envelope, job_event)
    except (ev.EventDecodeError, KeyError) as exc:
        if dead_letters:
            await dead_letter(key, value, f"projector: {exc!r}")


@app.agent(jobs_topic)
async def project_jobs(stream):
    async for event in stream.events():
        await project_job_record(event.key, event.value)


async def project_ledger_record(key: bytes | None, raw: bytes | None) -> None:
    """The credit view and the usage-history entry of one ledger record (both idempotent)."""
    try:
        _envelope, record = msg.read_as(raw, msg.LedgerRecord)
    except ev.EventDecodeError as exc:
        await dead_letter(key, raw, f"credit projector: {exc}")
        return
    db = clients.get().db
    balance = record.balance_after
    await asyncio.to_thread(mongo.save_credit_view, db, record.account_id, balance.to_dict(), balance.sequence)
    try:
        entry = entry_document(record.to_payload())
    except (ledger.SerializationError, KeyError, TypeError) as exc:
        await dead_letter(key, raw, f"ledger history projector: {exc!r}")
        return
    await asyncio.to_thread(mongo.save_ledger_entry, db, entry)


_credit_progress = MongoProgress(lambda: clients.get().db, "credit-projector")


@app.agent(ledger_topic)
async def project_credits(stream):
    async for event in stream.events():
        # Ledger records Faust drops around a restart are read back first (streams/ledger_gaps.py).
        await handle_with_gaps(event, _credit_progress, project_ledger_record, what="credit projector")
