"""Runs accepted jobs through Triton and stores the results: the TTS stage and the clone (voice enrolment) stage.

Both are one template (`run_stage`): skip a job that already ended (a redelivered acceptance), JobStarted, the
stage's work, then JobCompleted + capture of the price, or JobFailed + release of it. A `Stage` supplies only what
differs: how to tell the job ended, the work itself, and what a failure tells the user.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters import mongo
from adapters.blobstore import speech_key
from inference_client import InferenceError
from schemas import events as ev
from schemas import jobs
from schemas import messages as msg
from service_config import log_context

from . import clients
from .app import app, enrolment_lane_topic, jobs_topic, read_record, send, settings
from .clients import Clients
from .job_runs import JobRuns
from .stage_logic import (
    ENROL_LANE,
    SPEECH_LANE,
    clone_failure_reason,
    clone_internal_failure,
    lane_of,
    refused_reference,
    settlement,
    stage_timings,
    started,
    tts_failure_reason,
    tts_internal_failure,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    ended: Callable[[Any, str], bool]                                   # (db, job id), run in a thread
    work: Callable[[Clients, Any], Awaitable[msg.SpeechResult | msg.VoiceResult]]
    input_failure: Callable[[InferenceError], str]                     # Triton refused or failed
    internal_failure: Callable[[BaseException], str]                   # storage or unexpected fault
    cleanup: Callable[[Clients, Any], Awaitable[None]] | None = None   # runs whatever the outcome


# A job reaches this worker once from Faust and may again from the catch-up (streams/catch_up.py): one run.
_runs = JobRuns()


async def run_stage(stage: Stage, job: msg.Job, c: Clients) -> bool:
    """Run the job unless it ran, runs or ended already; returns whether this call ran it."""
    with log_context.bound(getattr(job, "request_id", None)):  # OtherJob kinds carry none
        async with _runs.claim(job.job_id) as mine:
            return mine and await _run_stage(stage, job, c)


async def _run_stage(stage: Stage, job: msg.Job, c: Clients) -> bool:
    if await asyncio.to_thread(stage.ended, c.db, job.job_id):
        log.info("%s job %s already finished; ignoring redelivered acceptance", job.kind, job.job_id)
        return False
    started_at = ev.utc_now()
    log.info("%s job %s started", job.kind, job.job_id)
    await send(started(job))
    outcome: msg.SpeechResult | msg.VoiceResult | str
    try:
        outcome = await stage.work(c, job)
    except InferenceError as exc:
        log.info("%s job %s failed: %s", job.kind, job.job_id, exc)
        outcome = stage.input_failure(exc)
    except Exception as exc:  # fail the job visibly and refund, never hang it
        log.exception("%s job %s failed", job.kind, job.job_id)
        outcome = stage.internal_failure(exc)
    finally:
        if stage.cleanup is not None:
            await stage.cleanup(c, job)
    for message in settlement(job, outcome, stage_timings(job, started_at, ev.utc_now())):
        await send(message)
    return True


# --- the TTS stage --------------------------------------------------------------------------------------------------

def _speech_ended(db: Any, job_id: str) -> bool:
    view = mongo.find_job(db, job_id)
    return bool(view and view.get("state") in jobs.TERMINAL)


async def synthesize(c: Clients, job: msg.TtsJob) -> msg.SpeechResult:
    engine_voice, profile = job.engine_voice, job.profile
    if profile is None and job.voice.type == "USER" and job.voice.id:
        profile = await _stored_profile(c, job.account_id, job.voice.id)
    if job.reference_key:  # /v1 audio_ref: never kept as a voice of the account's
        engine_voice, profile = await _reference_voice(c, job)
    # A cloned voice's profile moves its engine voice toward the reference; none = the system voice as is.
    # speed / durationS (the /v1 options) change the tempo, never the pitch; language None: the voice's own.
    audio = await c.inference().synthesize_with_profile(job.text, engine_voice or "slt", profile,
                                                        speed=job.speed or 1.0, duration_s=job.duration_s,
                                                        language=job.language)
    encoded = await c.inference().encode(audio, job.format)
    key = speech_key(job.account_id, job.job_id, job.format)
    await asyncio.to_thread(c.blobs.put, key, encoded.data, encoded.mime_type)
    return msg.SpeechResult(audio_key=key, duration=round(encoded.duration_s, 3), mime_type=encoded.mime_type,
                            format=job.format, voice_id=job.voice.id)


# The enrolments of audio_refs running in this worker, by kept-voice key: a second job with the same account and
# recording waits for the first's voice instead of running the same minute of enrolment beside it.
_enrolling: dict[str, asyncio.Event] = {}


async def _reference_voice(c: Clients, job: msg.TtsJob) -> tuple[str, Any]:
    """(engine voice, profile) of a /v1 audio_ref. Enrolment costs up to a minute and is not deterministic, so the
    voice enrolled from a recording is reused, for ``V1_REFERENCE_REUSE_S``, when the same account sends the same
    bytes again: the same voice every time, without the wait. Nothing is shared between accounts."""
    def read() -> tuple[bytes, str]:   # hashing up to 20 MB off the event loop, with the read
        data = c.blobs.get(job.reference_key)
        return data, hashlib.sha256(data).hexdigest()

    data, digest = await asyncio.to_thread(read)
    keep_s = c.settings.v1_reference_reuse_s
    if keep_s <= 0:
        return await _enrol_reference(c, data)
    key = f"{job.account_id}:{digest}"
    while True:
        kept = await asyncio.to_thread(mongo.find_reference_voice, c.db, job.account_id, digest, ev.utc_now())
        if kept is not None:
            log.info("reusing the voice enrolled from the same reference", extra={"sha256": digest[:16]})
            return kept["engineVoice"], kept["profile"]
        running = _enrolling.get(key)
        if running is None:
            break
        # Then look again: its voice is kept, or (it failed, or could not be kept) this job enrols its own.
        log.info("waiting for the same reference's enrolment in another job", extra={"sha256": digest[:16]})
        await running.wait()
    _enrolling[key] = done = asyncio.Event()
    try:
        engine_voice, profile = await _enrol_reference(c, data)
        now = ev.utc_now()   # kept from when the enrolment ended
        try:
            await asyncio.to_thread(mongo.save_reference_voice, c.db, job.account_id, digest, engine_voice,
                                    profile, now, now + timedelta(seconds=keep_s))
        except mongo.DatabaseError as exc:  # the job has its voice; only the next one enrols again
            log.warning("could not keep the reference's voice for reuse: %s", exc)
        return engine_voice, profile
    finally:
        if _enrolling.get(key) is done:
            del _enrolling[key]
        done.set()


async def _enrol_reference(c: Clients, data: bytes) -> tuple[str, Any]:
    enrolled = await c.inference().enroll(data)
    return enrolled.engine_voice, enrolled.profile


async def _stored_profile(c: Clients, account_id: str, voice_id: str) -> Any:
    """A cloned voice's profile, read from its view: profiles are stored once and jobs carry only the voice id."""
    voice = await asyncio.to_thread(mongo.find_own_voice, c.db, account_id, voice_id)
    if voice is None:  # deleted (or refused) after the job was accepted: fail it, the credits come back
        raise InferenceError("the voice no longer exists", code="unknown_voice")
    return voice.get("profile")


async def _forget_job_reference(c: Clients, job: msg.TtsJob) -> None:
    await _forget_reference(c, job.reference_key)


async def _forget_reference(c: Clients, key: str | None) -> None:
    if not key:
        return
    try:
        await asyncio.to_thread(c.blobs.delete, key)  # deleting a key already gone is not an error in S3
    except Exception as exc:  # an orphaned upload costs storage only; the job's outcome stands
        log.warning("could not delete the job reference %s: %s", key, exc)


TTS = Stage(ended=_speech_ended, work=synthesize, input_failure=tts_failure_reason,
            internal_failure=tts_internal_failure, cleanup=_forget_job_reference)


# --- the clone stage ------------------------------------------------------------------------------------------------

def _voice_ended(db: Any, voice_id: str) -> bool:
    return mongo.find_voice_state(db, voice_id) in jobs.TERMINAL


async def enrol(c: Clients, job: msg.CloneJob) -> msg.VoiceResult:
    """Fetch the voice's reference from S3 and make its profile on Triton (`enroll`)."""
    reference = await asyncio.to_thread(c.blobs.get, job.reference_key)
    enrolled = await c.inference().enroll(reference)
    return msg.VoiceResult(engine_voice=enrolled.engine_voice, profile=enrolled.profile,
                           enrolled_duration=round(enrolled.duration_s, 3))


CLONE = Stage(ended=_voice_ended, work=enrol, input_failure=clone_failure_reason,
              internal_failure=clone_internal_failure)

STAGES: dict[str, Stage] = {ev.JOB_KIND_TTS: TTS, ev.JOB_KIND_CLONE: CLONE}


# --- wiring ---------------------------------------------------------------------------------------------------------

@app.task
async def _prepare_bucket() -> None:
    await asyncio.to_thread(clients.get().blobs.ensure_bucket)


async def handle_job_record(key: bytes | None, value: bytes | None, *, dead_letters: bool = True,
                            lane: str | None = None) -> str | None:
    """One jobs-topic record: run the stage of an accepted job, forget the reference of a rejected one. Returns
    the id of the job it ran, if it ran one. ``lane``: handle only that lane's records (``stage_logic.lane_of``;
    an undecodable one is the speech lane's to dead-letter); None: every record (the catch-up)."""
    read = await read_record(key, value, "orchestrator", dead_letters=dead_letters and lane in (None, SPEECH_LANE))
    if read is None:
        return None
    _envelope, job_event = read
    if lane is not None and lane_of(job_event) != lane:
        return None
    if isinstance(job_event, msg.JobRejected):
        await _forget_reference(clients.get(), refused_reference(job_event))
        return None
    stage = STAGES.get(job_event.kind) if isinstance(job_event, msg.JobAccepted) else None
    if stage is not None and await run_stage(stage, job_event.job, clients.get()):  # an OtherJob has no stage
        return job_event.job.job_id
    return None


# Two agents read the jobs topic, each taking its own lane's jobs: with one, four enrolments at once (clones or
# audio_ref jobs, a minute each, queued on Triton's one enroll instance) took all four slots and every speech job
# waited behind them. The enrolment lane's slots (ENROL_CONCURRENCY) keep the enroll instance busy (one runs, one
# waits on Triton); more wait in Kafka, where a worker crash loses none of them.
@app.agent(jobs_topic, concurrency=4)
async def orchestrate(stream):
    async for event in stream.events():
        await handle_job_record(event.key, event.value, lane=SPEECH_LANE)


@app.agent(enrolment_lane_topic, concurrency=settings.enrol_concurrency)
async def orchestrate_enrolments(stream):
    async for event in stream.events():
        await handle_job_record(event.key, event.value, lane=ENROL_LANE)
