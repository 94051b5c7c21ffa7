"""Materialises job and credit views into MongoDB from the jobs and ledger topics (idempotent)."""
from __future__ import annotations

import asyncio
import logging

import ledger
from adapters import mongo
from ledger.history import entry_document
from schemas import events as ev, jobs

from .app import app, dead_letter, jobs_topic, ledger_topic, settings
from .ledger_gaps import MongoProgress, handle_with_gaps

log = logging.getLogger(__name__)

_db = mongo.connect(settings)


@app.task
async def _prepare_indexes() -> None:
    await asyncio.to_thread(mongo.ensure_indexes, _db)


def job_view_fields(event: ev.Event) -> tuple[dict, dict]:
    """(fields to set, fields to seed a missing view with) for one job event."""
    p = event.payload
    updated_at = ev.parse_iso(event.occurred_at)
    fields: dict = {"updatedAt": updated_at}
    if event.name == ev.JOB_COMPLETED:
        fields.update(audioKey=p["audioKey"], duration=p["duration"], mimeType=p.get("mimeType"))
    elif event.name == ev.JOB_FAILED:
        fields["error"] = p.get("reason") or "Speech generation failed"
    elif event.name == ev.JOB_REJECTED:
        fields["error"] = f"Insufficient credits: have {p.get('credits')}, need {p.get('needCredits')}"
    job = p.get("job") or {}
    seed = {"accountId": p["accountId"], "kind": p.get("kind") or job.get("kind"), "createdAt": updated_at}
    if job:
        seed.update(
            text=job["text"], format=job["format"], voice=job["voice"], voiceId=job["voice"]["id"],
            creditsUsed=job["creditsUsed"], createdAt=ev.parse_iso(job["createdAt"]),
        )
    return fields, seed


def project_job_event(db, event: ev.Event) -> bool:
    target = jobs.TARGET_STATE.get(event.name)
    if target is None:
        return False
    if is_clone_event(event):  # a clone job's view is its voice
        return project_voice_event(db, event)
    fields, seed = job_view_fields(event)
    changed = mongo.apply_job_transition(db, event.payload["jobId"], target, fields, seed)
    if changed and event.name == ev.JOB_COMPLETED and event.payload.get("voiceId"):
        mongo.increment_voice_usage(db, event.payload["voiceId"], event.payload["jobId"])
    return changed


def is_clone_event(event: ev.Event) -> bool:
    p = event.payload
    return (p.get("kind") or (p.get("job") or {}).get("kind")) == ev.JOB_KIND_CLONE


def voice_view_fields(event: ev.Event) -> tuple[dict, dict]:
    """(fields to set, fields to seed a missing voice with) for one clone job event (pure)."""
    p = event.payload
    updated_at = ev.parse_iso(event.occurred_at)
    fields: dict = {"updatedAt": updated_at}
    if event.name == ev.JOB_COMPLETED:
        fields.update(engineVoice=p["engineVoice"], profile=p["profile"], error=None)
    elif event.name == ev.JOB_FAILED:
        fields["error"] = p.get("reason") or "Voice cloning failed"
    elif event.name == ev.JOB_REJECTED:
        fields["error"] = "Insufficient credits"
    job = p.get("job") or {}
    if job:
        seed = jobs.clone_job_view(job, ev.parse_iso(job["createdAt"]), updated_at)
    else:
        seed = {"accountId": p["accountId"], "type": "USER", "isPublic": False, "tags": [], "usageCount": 0,
                "popularity": 0, "createdAt": updated_at}
    return fields, seed


def project_voice_event(db, event: ev.Event) -> bool:
    target = jobs.TARGET_STATE[event.name]
    fields, seed = voice_view_fields(event)
    return mongo.apply_voice_transition(db, event.payload["jobId"], target, fields, seed)


@app.agent(jobs_topic)
async def project_jobs(stream):
    async for event in stream.events():
        try:
            job_event = ev.decode(event.value)
            await asyncio.to_thread(project_job_event, _db, job_event)
        except (ev.EventDecodeError, KeyError) as exc:
            await dead_letter(event.key, event.value, f"projector: {exc!r}")


async def project_ledger_record(key: bytes | None, raw: bytes | None) -> None:
    """The credit view and the usage-history entry of one ledger record (both idempotent)."""
    try:
        ledger_event = ev.decode(raw)
    except ev.EventDecodeError as exc:
        await dead_letter(key, raw, f"credit projector: {exc}")
        return
    balance = ledger_event.payload.get("balanceAfter")
    if balance is None:
        return
    await asyncio.to_thread(
        mongo.save_credit_view, _db, ledger_event.payload["accountId"], balance, balance["sequence"]
    )
    try:
        entry = entry_document(ledger_event.payload)
    except (ledger.SerializationError, KeyError, TypeError) as exc:
        await dead_letter(key, raw, f"ledger history projector: {exc!r}")
        return
    await asyncio.to_thread(mongo.save_ledger_entry, _db, entry)


_credit_progress = MongoProgress(_db, "credit-projector")


@app.agent(ledger_topic)
async def project_credits(stream):
    async for event in stream.events():
        # Ledger records Faust drops around a restart are read back first (streams/ledger_gaps.py).
        await handle_with_gaps(event, _credit_progress, project_ledger_record, what="credit projector")
