"""Runs accepted jobs through Triton and stores the results: the TTS stage and the clone (voice enrolment) stage."""
from __future__ import annotations

import asyncio
import logging

from adapters import mongo
from adapters.blobstore import BlobStore, speech_key
from inference_client import InferenceClient, InferenceError
from schemas import events as ev, jobs

from .app import app, dead_letter, jobs_topic, publish, requests_topic, settings

log = logging.getLogger(__name__)

_blobs = BlobStore(settings)
_db = mongo.connect(settings)
_inference: InferenceClient | None = None


def inference() -> InferenceClient:
    global _inference
    if _inference is None:  # made lazily, inside the worker's event loop
        _inference = InferenceClient.from_settings(settings)
    return _inference


@app.task
async def _prepare_bucket() -> None:
    await asyncio.to_thread(_blobs.ensure_bucket)


@app.agent(jobs_topic, concurrency=4)
async def orchestrate(stream):
    async for event in stream.events():
        try:
            job_event = ev.decode(event.value)
        except ev.EventDecodeError as exc:
            await dead_letter(event.key, event.value, f"orchestrator: {exc}")
            continue
        if job_event.name == ev.JOB_ACCEPTED and job_event.payload["job"].get("kind") == "tts":
            await run_tts(job_event.payload["job"], job_event.id)
        elif job_event.name == ev.JOB_ACCEPTED and job_event.payload["job"].get("kind") == ev.JOB_KIND_CLONE:
            await run_clone(job_event.payload["job"], job_event.id)


async def _already_finished(job_id: str) -> bool:
    view = await asyncio.to_thread(_db.speeches.find_one, {"_id": job_id}, {"state": 1})
    return bool(view and view.get("state") in jobs.TERMINAL)


async def run_tts(job: dict, cause_id: str) -> None:
    job_id, account_id = job["jobId"], job["accountId"]
    if await _already_finished(job_id):
        log.info("job %s already finished; ignoring redelivered acceptance", job_id)
        return
    base = {"jobId": job_id, "accountId": account_id, "kind": "tts"}
    await publish(jobs_topic, job_id, ev.Event(ev.JOB_STARTED, base, correlation_id=job_id))
    try:
        # A cloned voice's profile moves its engine voice toward the reference; none = the system voice as is.
        audio = await inference().synthesize_with_profile(job["text"], job.get("engineVoice") or "slt",
                                                          job.get("profile"))
        encoded = await inference().encode(audio, job["format"])
        key = speech_key(account_id, job_id, job["format"])
        await asyncio.to_thread(_blobs.put, key, encoded.data, encoded.mime_type)
    except InferenceError as exc:
        await _fail(base, job, f"synthesis failed: {exc.reason}")
        return
    except Exception as exc:  # storage or unexpected fault: fail the job visibly and refund, never hang it
        log.exception("job %s failed", job_id)
        await _fail(base, job, f"internal error: {type(exc).__name__}")
        return
    completed = {**base, "audioKey": key, "duration": round(encoded.duration_s, 3), "mimeType": encoded.mime_type,
                 "format": job["format"], "voiceId": job["voice"]["id"]}
    await publish(jobs_topic, job_id, ev.Event(ev.JOB_COMPLETED, completed, correlation_id=job_id))
    capture = {"commandId": f"capture:{job_id}", "accountId": account_id, "jobId": job_id,
               "amount": job["creditsUsed"]}
    await publish(requests_topic, account_id, ev.Event(ev.CAPTURE_FOR_JOB, capture, correlation_id=job_id))


async def _fail(base: dict, job: dict, reason: str) -> None:
    job_id, account_id = base["jobId"], base["accountId"]
    await publish(jobs_topic, job_id, ev.Event(ev.JOB_FAILED, {**base, "reason": reason}, correlation_id=job_id))
    release = {"commandId": f"release:{job_id}", "accountId": account_id, "jobId": job_id, "reason": "failed"}
    await publish(requests_topic, account_id, ev.Event(ev.RELEASE_FOR_JOB, release, correlation_id=job_id))


# --- the clone stage ------------------------------------------------------------------------------------------------

def clone_failure_reason(exc: InferenceError) -> str:
    """What a FAILED voice says: the enrol model's own words for unusable audio, else what went wrong."""
    if exc.code in CLONE_INPUT_ERRORS:
        return exc.reason[:1].upper() + exc.reason[1:]
    return f"Voice cloning failed: {exc.reason}"


CLONE_INPUT_ERRORS = frozenset({"unsupported_audio", "invalid_audio", "audio_too_long", "audio_too_short",
                                "audio_silent", "audio_clipped", "no_voiced_speech"})


async def run_clone(job: dict, cause_id: str) -> None:
    """Enrol an accepted voice: fetch its reference from S3, make the profile on Triton (`enroll`), then
    JobCompleted with the profile and capture the price; unusable audio or any fault: JobFailed and release."""
    voice_id, account_id = job["jobId"], job["accountId"]
    state = await asyncio.to_thread(mongo.find_voice_state, _db, voice_id)
    if state in jobs.TERMINAL:
        log.info("voice %s already finished; ignoring redelivered acceptance", voice_id)
        return
    base = {"jobId": voice_id, "accountId": account_id, "kind": ev.JOB_KIND_CLONE}
    await publish(jobs_topic, voice_id, ev.Event(ev.JOB_STARTED, base, correlation_id=voice_id))
    try:
        reference = await asyncio.to_thread(_blobs.get, job["referenceKey"])
        enrolled = await inference().enroll(reference)
    except InferenceError as exc:
        log.info("voice %s not enrolled: %s", voice_id, exc)
        await _fail(base, job, clone_failure_reason(exc))
        return
    except Exception as exc:  # storage or unexpected fault: fail the voice visibly and refund, never hang it
        log.exception("voice %s failed", voice_id)
        await _fail(base, job, f"Voice cloning failed: internal error ({type(exc).__name__})")
        return
    completed = {**base, "engineVoice": enrolled.engine_voice, "profile": enrolled.profile,
                 "enrolledDuration": round(enrolled.duration_s, 3)}
    await publish(jobs_topic, voice_id, ev.Event(ev.JOB_COMPLETED, completed, correlation_id=voice_id))
    capture = {"commandId": f"capture:{voice_id}", "accountId": account_id, "jobId": voice_id,
               "amount": job["creditsUsed"]}
    await publish(requests_topic, account_id, ev.Event(ev.CAPTURE_FOR_JOB, capture, correlation_id=voice_id))

