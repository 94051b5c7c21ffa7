"""What the projector writes, without Faust or MongoDB: the view fields of each job event (speech views for TTS
jobs, voice documents for clone jobs). The notifier's public events: streams/completion_logic.py."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import events as ev
from schemas import jobs
from schemas import messages as msg

JobEvent = msg.JobAccepted | msg.JobRejected | msg.JobStarted | msg.JobCompleted | msg.JobFailed
JOB_EVENTS = (msg.JobAccepted, msg.JobRejected, msg.JobStarted, msg.JobCompleted, msg.JobFailed)


def target_state(event: msg.Message) -> str | None:
    """The state a job event moves its job into (None: not a job event)."""
    return jobs.TARGET_STATE.get(event.WIRE_NAME) if isinstance(event, JOB_EVENTS) else None


def is_clone_event(event: JobEvent) -> bool:
    return event.kind == ev.JOB_KIND_CLONE


def job_view_fields(event: JobEvent, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields to set, fields to seed a missing view with) for one speech job event at time ``at``."""
    fields: dict[str, Any] = {"updatedAt": at}
    match event:
        case msg.JobStarted():
            fields["startedAt"] = at
        case msg.JobCompleted(result=msg.SpeechResult() as result):
            fields.update(audioKey=result.audio_key, duration=result.duration, mimeType=result.mime_type,
                          finishedAt=at)
        case msg.JobFailed():
            fields.update(error=event.reason or "Speech generation failed", finishedAt=at)
        case msg.JobRejected():
            fields.update(error=event.reason, finishedAt=at)
    seed: dict[str, Any] = {"accountId": event.account_id, "kind": event.kind, "createdAt": at}
    job = getattr(event, "job", None)
    if isinstance(job, msg.TtsJob):
        seed.update(text=job.text, format=job.format, voice=job.voice.to_dict(), voiceId=job.voice.id,
                    creditsUsed=job.credits_used, createdAt=ev.parse_iso(job.created_at))
        if job.api:  # a /v1 job: its surface and request parameters (GET /v1/jobs/{id})
            seed.update(api=job.api, parameters=job.parameters)
    return fields, seed


def voice_used(event: JobEvent) -> str | None:
    """The voice whose usage count a finished speech job adds to."""
    if isinstance(event, msg.JobCompleted) and isinstance(event.result, msg.SpeechResult):
        return event.result.voice_id or None
    return None


def voice_view_fields(event: JobEvent, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields to set, fields to seed a missing voice with) for one clone job event at time ``at``."""
    fields: dict[str, Any] = {"updatedAt": at}
    match event:
        case msg.JobCompleted(result=msg.VoiceResult() as result):
            fields.update(engineVoice=result.engine_voice, profile=result.profile, error=None)
        case msg.JobFailed():
            fields["error"] = event.reason or "Voice cloning failed"
        case msg.JobRejected():
            fields["error"] = "Insufficient credits"
    job = getattr(event, "job", None)
    if isinstance(job, msg.CloneJob):
        seed = jobs.clone_job_view(job.to_dict(), ev.parse_iso(job.created_at), at)
    else:
        seed = {"accountId": event.account_id, "type": "USER", "isPublic": False, "tags": [], "usageCount": 0,
                "popularity": 0, "createdAt": at}
    return fields, seed
