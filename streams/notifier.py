"""Publishes public completion events for outside consumers (the documented completions topic)."""
from __future__ import annotations

from schemas import events as ev

from .app import app, completions_topic, dead_letter, jobs_topic, publish


def public_event(job_event: ev.Event) -> ev.Event | None:
    p = job_event.payload
    if p.get("kind") != "tts" or job_event.name not in (ev.JOB_COMPLETED, ev.JOB_FAILED):
        return None
    if job_event.name == ev.JOB_COMPLETED:
        body = {"speechId": p["jobId"], "accountId": p["accountId"], "status": "COMPLETED",
                "format": p.get("format"), "duration": p.get("duration"), "mimeType": p.get("mimeType")}
        name = ev.SPEECH_COMPLETED
    else:
        body = {"speechId": p["jobId"], "accountId": p["accountId"], "status": "FAILED", "error": p.get("reason")}
        name = ev.SPEECH_FAILED
    # Deterministic id: a redelivered job event yields the same public event id, so consumers can dedupe.
    return ev.Event(name, body, id=f"{job_event.id}:public", occurred_at=job_event.occurred_at,
                    correlation_id=p["jobId"])


@app.agent(jobs_topic)
async def notify(stream):
    async for event in stream.events():
        try:
            job_event = ev.decode(event.value)
        except ev.EventDecodeError as exc:
            await dead_letter(event.key, event.value, f"notifier: {exc}")
            continue
        public = public_event(job_event)
        if public is not None:
            await publish(completions_topic, job_event.payload["jobId"], public)
