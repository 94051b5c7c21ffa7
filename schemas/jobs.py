"""The job state machine shared by clone and TTS jobs (pure).

    PENDING_CREDITS ─► QUEUED ─► PROCESSING ─► COMPLETED
           │             │           │
           └► REJECTED   └───────────┴──────► FAILED

Every transition is caused by one event on the jobs topic. ``apply`` refuses transitions that go backwards, so a
projection can apply redelivered or replayed events in any order without corrupting the view.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import messages as msg

PENDING_CREDITS = "PENDING_CREDITS"
QUEUED = "QUEUED"
PROCESSING = "PROCESSING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
REJECTED = "REJECTED"

TERMINAL = frozenset({COMPLETED, FAILED, REJECTED})
UNFINISHED = frozenset({PENDING_CREDITS, QUEUED, PROCESSING})

# The front door records a request itself (PENDING_CREDITS, written before the ledger's answer): no message.
JOB_REQUESTED = "JobRequested"

# Event name -> the state it moves a job into.
TARGET_STATE = {
    JOB_REQUESTED: PENDING_CREDITS,
    msg.JobAccepted.WIRE_NAME: QUEUED,
    msg.JobRejected.WIRE_NAME: REJECTED,
    msg.JobStarted.WIRE_NAME: PROCESSING,
    msg.JobCompleted.WIRE_NAME: COMPLETED,
    msg.JobFailed.WIRE_NAME: FAILED,
}

_ALLOWED: dict[str | None, frozenset[str]] = {
    None: frozenset({PENDING_CREDITS, QUEUED, REJECTED, PROCESSING, COMPLETED, FAILED}),
    PENDING_CREDITS: frozenset({QUEUED, REJECTED, PROCESSING, COMPLETED, FAILED}),
    QUEUED: frozenset({PROCESSING, COMPLETED, FAILED}),
    PROCESSING: frozenset({COMPLETED, FAILED}),
    COMPLETED: frozenset(),
    FAILED: frozenset(),
    REJECTED: frozenset(),
}


def can_transition(current: str | None, target: str) -> bool:
    return target in _ALLOWED.get(current, frozenset())


def next_state(current: str | None, event_name: str) -> str | None:
    """The state after ``event_name``, or None when the event does not move the job (duplicate or stale)."""
    target = TARGET_STATE.get(event_name)
    if target is None or not can_transition(current, target):
        return None
    return target


def public_status(state: str) -> str:
    """The status the public API shows: PROCESSING until the job ends, then COMPLETED or FAILED."""
    if state == COMPLETED:
        return "COMPLETED"
    if state in (FAILED, REJECTED):
        return "FAILED"
    return "PROCESSING"


def states_before(target: str) -> list[str | None]:
    """States from which ``target`` may be entered; used to build guarded (idempotent) database updates."""
    return [state for state, allowed in _ALLOWED.items() if target in allowed]


# --- voices (clone jobs) -------------------------------------------------------------------------------------------
# A clone job's id is the voice's id; its view is the voice document (MongoDB `voices`), moved through the same
# states. A voice whose reservation was refused (REJECTED) keeps the status "REJECTED": the caller got a 429 and no
# voice id, so such a voice is never listed nor usable.

VOICE_REJECTED = "REJECTED"


def voice_status(state: str) -> str:
    """The voice status the API shows: PROCESSING, COMPLETED or FAILED (and the hidden REJECTED)."""
    return VOICE_REJECTED if state == REJECTED else public_status(state)


def clone_job_view(job: Mapping[str, Any], created_at: datetime,
                   updated_at: datetime | None = None) -> dict[str, Any]:
    """The fields of a USER voice document, from the clone job the front door published (pure)."""
    return {
        "accountId": job["accountId"],
        "type": "USER",
        "isPublic": False,
        "title": job["title"],
        "description": job.get("description"),
        "coverImage": job.get("coverImage"),
        "tags": list(job.get("tags") or []),
        "duration": job.get("duration"),
        "audioKey": job["referenceKey"],
        "audioMimeType": job.get("referenceMimeType"),
        "engineVoice": None,
        "profile": None,
        "error": None,
        "usageCount": 0,
        "popularity": 0,
        "jobId": job["jobId"],
        "creditsUsed": job.get("creditsUsed"),
        "createdAt": created_at,
        "updatedAt": updated_at or created_at,
        **({"requestId": job["requestId"]} if job.get("requestId") else {}),  # the X-Request-Id that made it
    }
