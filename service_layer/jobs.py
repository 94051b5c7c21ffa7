"""Any job by id: a speech (TTS) job or a voice's clone job, as the caller may see it."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from schemas import events as ev

from .errors import NotFound
from .ports import Doc, Ports

JOB_NOT_FOUND = "Job not found or access denied"
ENDED = ("COMPLETED", "FAILED")  # public statuses after which a job never changes again
MAX_WAIT_S = 30  # the longest ?wait= a read may ask for
RECHECK_S = 5.0  # a waiting read re-reads this often even without a change notice (a missed one costs no more)
T = TypeVar("T")


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


def wait_until_ended(ports: Ports, job_id: str, wait_s: float, read: Callable[[], T],
                     ended: Callable[[T], bool], *, monotonic: Callable[[], float] = time.monotonic) -> T:
    """``read()`` once the job has ended, or at the end of ``wait_s`` seconds with its state then.

    Woken by the job's changes (``ports.job_changes``), never by polling the store; the first read answers at once
    (NotFound included) when the job has ended, ``wait_s`` is 0, or the process has no waiting slot left.
    """
    deadline = monotonic() + max(0.0, wait_s)
    current = read()
    if ended(current) or wait_s <= 0:
        return current
    with ports.job_changes.subscribe(job_id) as changes:
        if changes is None:
            return current
        while True:
            current = read()  # after subscribing: a change between the two reads is not lost
            left = deadline - monotonic()
            if ended(current) or left <= 0:
                return current
            changes.wait(min(left, RECHECK_S))


def job_ended(job: Job) -> bool:
    return job.status in ENDED
