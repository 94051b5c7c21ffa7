"""The public completion event of a job event, without Faust: speech.completed / speech.failed for speech jobs,
voice.ready / voice.failed for clone jobs (both surfaces), keyed by account id (schemas/messages.py, version 2).

Every job the front door published ends with exactly one: a job the ledger refused for credits ends with a failed
event too (charged 0) — the HTTP answer may have been a 429, or a 202 when the ledger's decision came too late."""
from __future__ import annotations

from schemas import events as ev
from schemas import messages as msg

Completion = msg.SpeechCompleted | msg.SpeechFailed | msg.VoiceReady | msg.VoiceFailed


def _common(event: msg.JobCompleted | msg.JobFailed, *, voice_id: str | None, charged: int | None) -> dict:
    return {"job_id": event.job_id, "account_id": event.account_id, "api": event.api, "voice_id": voice_id,
            "credits_charged": charged, "timings": event.timings, "request_id": event.request_id}


def public_message(event: msg.Message) -> Completion | None:
    """The public event of a job that ended (None for any other message, and for kinds no stage runs)."""
    if isinstance(event, msg.JobCompleted):
        result = event.result
        if isinstance(result, msg.SpeechResult):
            return msg.SpeechCompleted(**_common(event, voice_id=result.voice_id, charged=event.credits_used),
                                       speech_id=event.job_id, format=result.format, audio_key=result.audio_key,
                                       duration=result.duration, mime_type=result.mime_type)
        return msg.VoiceReady(**_common(event, voice_id=event.job_id, charged=event.credits_used),
                              audio_key=result.reference_key, duration=result.enrolled_duration)
    if isinstance(event, msg.JobRejected):
        return _refused(event)
    if isinstance(event, msg.JobFailed):
        charged = 0  # a failed job's price is released: nothing is spent
        if event.kind == ev.JOB_KIND_TTS:
            return msg.SpeechFailed(**_common(event, voice_id=None, charged=charged), speech_id=event.job_id,
                                    error=event.reason)
        if event.kind == ev.JOB_KIND_CLONE:
            return msg.VoiceFailed(**_common(event, voice_id=event.job_id, charged=charged), error=event.reason)
    return None


def public_envelope(job_envelope: ev.Event, public: Completion) -> ev.Event:
    """Its id derives from the job event's, so a redelivered job event yields the same public id (consumers
    dedupe by it), and it keeps the job event's time."""
    return public.envelope(id=f"{job_envelope.id}:public", occurred_at=job_envelope.occurred_at)


def _refused(event: msg.JobRejected) -> msg.SpeechFailed | msg.VoiceFailed | None:
    """The failed event of a job the ledger refused: nothing charged, never started; api and request id from the
    job the front door published."""
    job = event.job
    common = {"job_id": event.job_id, "account_id": event.account_id, "api": getattr(job, "api", None),
              "credits_charged": 0, "timings": None, "request_id": getattr(job, "request_id", None)}
    if isinstance(job, msg.TtsJob):
        return msg.SpeechFailed(**common, voice_id=job.voice.id, speech_id=event.job_id, error=event.reason)
    if isinstance(job, msg.CloneJob):
        return msg.VoiceFailed(**common, voice_id=event.job_id, error=event.reason)
    return None
