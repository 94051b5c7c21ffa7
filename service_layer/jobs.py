"""Any job by id: a speech (TTS) job or a voice's clone job, as the caller may see it."""
from __future__ import annotations

from dataclasses import dataclass

from schemas import events as ev

from .errors import NotFound
from .ports import Doc, Ports

JOB_NOT_FOUND = "Job not found or access denied"


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str  # ev.JOB_KIND_TTS | ev.JOB_KIND_CLONE
    status: str  # PROCESSING | COMPLETED | FAILED
    doc: Doc  # the job's view: the speech document, or the voice document for a clone job
    result_key: str | None  # S3 key of the result (a speech's audio) once COMPLETED
    result_url: str | None  # presigned URL of the result, when asked for


def get_job(ports: Ports, account_id: str, job_id: str, *, presign: bool = False) -> Job:
    """The caller's job; NotFound for any other tenant's or an unknown id. ``presign``: a fresh result URL."""
    speech = ports.store.find_speech(account_id, job_id)
    if speech is not None:
        key = speech.get("audioKey") if speech.get("status") == "COMPLETED" else None
        url = ports.blobs.presigned_url(key) if presign and key else None
        return Job(job_id, ev.JOB_KIND_TTS, str(speech.get("status")), speech, key, url)
    voice = ports.store.find_own_voice(account_id, job_id)
    if voice is not None:
        return Job(job_id, ev.JOB_KIND_CLONE, str(voice.get("status")), voice, None, None)
    raise NotFound(JOB_NOT_FOUND)
