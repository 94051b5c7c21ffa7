"""What a job stage emits, without Faust, S3 or Triton: the lifecycle events of a job and the ledger command that
settles its price, and the error a user sees when a stage fails. Used by streams/orchestrator.py for TTS and
clone jobs alike."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Protocol

from schemas import events as ev
from schemas import messages as msg

# The enrol model's words for reference audio it cannot use: shown to the user as they are.
CLONE_INPUT_ERRORS = frozenset({"unsupported_audio", "invalid_audio", "audio_too_long", "audio_too_short",
                                "audio_silent", "audio_clipped", "no_voiced_speech"})


class Failure(Protocol):
    """What a stage failure tells (inference_client.InferenceError has both)."""
    @property
    def code(self) -> str | None: ...
    @property
    def reason(self) -> str: ...


# The orchestrator's two lanes (agents on the jobs topic, each with its own slots; streams/orchestrator.py).
ENROL_LANE, SPEECH_LANE = "enrol", "speech"


def lane_of(job_event: msg.Message) -> str:
    """Which lane runs a jobs-topic event: a job that enrols a reference — a clone, or /v1 speech with an
    audio_ref — holds Triton's one enroll instance for up to a minute, so it waits in a lane of its own and a burst
    of them never holds up speech; everything else (speech in a system or saved voice, rejections to clean up,
    lifecycle events) is the speech lane's."""
    if isinstance(job_event, msg.JobAccepted):
        job = job_event.job
        if isinstance(job, msg.CloneJob) or (isinstance(job, msg.TtsJob) and job.reference_key):
            return ENROL_LANE
    return SPEECH_LANE


def started(job: msg.Job) -> msg.JobStarted:
    return msg.JobStarted(job_id=job.job_id, account_id=job.account_id, kind=job.kind)


def stage_timings(job: msg.Job, started_at: datetime, finished_at: datetime) -> msg.StageTimings:
    """How long a job waited (from its request) and ran; its created_at is missing only for an OtherJob."""
    created = getattr(job, "created_at", None)
    queued_ms = None
    if created:
        queued_ms = max(0, round((started_at - ev.parse_iso(created)).total_seconds() * 1000))
    return msg.StageTimings(created_at=created, started_at=ev.iso_millis(started_at),
                            finished_at=ev.iso_millis(finished_at), queued_ms=queued_ms,
                            run_ms=max(0, round((finished_at - started_at).total_seconds() * 1000)))


def settlement(job: msg.Job, outcome: msg.SpeechResult | msg.VoiceResult | str,
               timings: msg.StageTimings | None = None) -> list[msg.Message]:
    """What ends a job, in order: JobCompleted and the capture of its price for a result, JobFailed and the
    release of its price for a failure (``outcome`` is then the reason the user sees). Both carry what the public
    completion event tells: price, surface, timings and the asking request's id (once jobs carry one)."""
    told = {"credits_used": job.credits_used, "api": getattr(job, "api", None), "timings": timings,
            "request_id": getattr(job, "request_id", None)}
    if isinstance(outcome, str):
        return [msg.JobFailed(job_id=job.job_id, account_id=job.account_id, kind=job.kind, reason=outcome,
                              **told),
                msg.ReleaseJobCredits.for_job(job)]
    if isinstance(job, msg.CloneJob) and isinstance(outcome, msg.VoiceResult) and outcome.reference_key is None:
        outcome = dataclasses.replace(outcome, reference_key=job.reference_key)
    return [msg.JobCompleted(job_id=job.job_id, account_id=job.account_id, kind=job.kind, result=outcome, **told),
            msg.CaptureJobCredits.for_job(job)]


def tts_failure_reason(exc: Failure) -> str:
    """What a failed speech job says: the enrol model's own words for an unusable reference, else the cause."""
    if exc.code in CLONE_INPUT_ERRORS:
        return "The reference audio cannot be used: " + exc.reason
    return f"synthesis failed: {exc.reason}"


def tts_internal_failure(exc: BaseException) -> str:
    return f"internal error: {type(exc).__name__}"


def clone_failure_reason(exc: Failure) -> str:
    """What a FAILED voice says: the enrol model's own words for unusable audio, else what went wrong."""
    if exc.code in CLONE_INPUT_ERRORS:
        return exc.reason[:1].upper() + exc.reason[1:]
    return f"Voice cloning failed: {exc.reason}"


def clone_internal_failure(exc: BaseException) -> str:
    return f"Voice cloning failed: internal error ({type(exc).__name__})"


def refused_reference(event: msg.JobRejected) -> str | None:
    """The uploaded recording a refused job leaves behind (a /v1 speech's one-off reference, a clone's reference),
    or None. The front door deletes it when the refusal comes within its wait; a late refusal (after a 202) leaves
    it to the orchestrator: no stage will ever read it, and a user's recording is not kept for nothing."""
    job = event.job
    if isinstance(job, (msg.TtsJob, msg.CloneJob)):
        return job.reference_key or None
    return None
