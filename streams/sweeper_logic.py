"""What ends a job that would otherwise never end, without Faust, Kafka or MongoDB.

Every accepted request must end COMPLETED or FAILED within a bounded time, whatever fails on the way. Two cases
have no other owner:
- a reservation request the ledger cannot decide (undecodable, or its account state unreadable) is dead-lettered;
  if its job id can still be read, the ledger agent fails the job at once (:func:`undecidable_reservation`);
- any job view still unfinished past the deadline (JOB_DEADLINE_S: a dead-lettered request whose job id was
  unreadable, a lost JobAccepted, a stage that never answered, a worker lost mid-job) is failed by the sweeper
  (:func:`stuck_settlement`), and its price released through the ledger. A release of a job that holds nothing
  (never reserved, or already released or captured) decides nothing, so the release is always safe to send.
Both envelopes have fixed ids, so two workers or two ticks that see the same job publish the same events.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import ledger
from schemas import events as ev
from schemas import jobs
from schemas import messages as msg

UNDECIDABLE_REASON = "The request could not be processed (internal error); no credits were charged"
_STUCK_WHAT = {
    jobs.PENDING_CREDITS: "its credit reservation was never decided",
    jobs.QUEUED: "it was accepted but never started",
    jobs.PROCESSING: "it started but never finished",
}


def stuck_reason(state: str | None, deadline_s: float) -> str:
    """What the job view says when the sweeper ended it."""
    what = _STUCK_WHAT.get(state or "", "it never finished")
    return f"Timed out: {what} within {deadline_s:.0f} s; no credits were charged"


def is_stuck(view: Mapping[str, Any], now: datetime, deadline_s: float) -> bool:
    created = view.get("createdAt")
    return (view.get("state") in jobs.UNFINISHED and isinstance(created, datetime)
            and created <= now - timedelta(seconds=deadline_s))


def stuck_settlement(view: Mapping[str, Any], now: datetime,
                     deadline_s: float) -> list[tuple[msg.Message, ev.Event]]:
    """JobFailed (the view says why) and the release of the job's price, for a view stuck past the deadline;
    nothing for a view that ended or is still in time."""
    if not is_stuck(view, now, deadline_s) or not view.get("accountId"):
        return []
    job_id, account_id = str(view["_id"]), str(view["accountId"])
    kind = ev.JOB_KIND_CLONE if view.get("kind") == ev.JOB_KIND_CLONE else ev.JOB_KIND_TTS
    failed = msg.JobFailed(job_id=job_id, account_id=account_id, kind=kind,
                           reason=stuck_reason(view.get("state"), deadline_s))
    release = msg.ReleaseJobCredits(command_id=f"release-stuck:{job_id}", account_id=account_id, job_id=job_id,
                                    reason=ledger.ReleaseReason.TIMED_OUT.value)
    return [(failed, failed.envelope(id=f"stuck:{job_id}")), (release, release.envelope(id=release.command_id))]


def undecidable_reservation(raw: bytes | None) -> tuple[msg.JobFailed, ev.Event] | None:
    """JobFailed for the job of a ReserveCreditsForJob the ledger could not decide, when its job id, account and
    kind can still be read from the raw message; None otherwise (then the sweeper ends the job later)."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("name") != msg.ReserveCreditsForJob.WIRE_NAME:
        return None
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return None
    job = payload.get("job") if isinstance(payload.get("job"), dict) else {}
    job_id, account_id = payload.get("jobId") or job.get("jobId"), payload.get("accountId") or job.get("accountId")
    if not isinstance(job_id, str) or not job_id or not isinstance(account_id, str) or not account_id:
        return None
    kind = ev.JOB_KIND_CLONE if job.get("kind") == ev.JOB_KIND_CLONE else ev.JOB_KIND_TTS
    failed = msg.JobFailed(job_id=job_id, account_id=account_id, kind=kind, reason=UNDECIDABLE_REASON)
    return failed, failed.envelope(id=f"undecidable:{job_id}")
