"""Cloning text-to-speech (the /v1 surface): speech in the voice of a reference recording sent with the request
(enrolled for this job, never kept as a voice; its voice is reused when the same account sends the same file
again) or of a saved custom voice, with speed, duration and language. Built from the same pieces as
``speech.request_speech`` (price, voice check, paid-job sequence), so both surfaces share every rule; and the wait
of the synchronous mode.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from schemas import jobs

from .errors import InvalidInput, ServiceUnavailable
from .jobs import wait_until_ended
from .paid_jobs import submit_paid_job
from .ports import Doc, Ports, Unavailable
from .speech import SpeechAccepted, check_voice_ready, get_speech, price_of_text, speech_view_fields, tts_job
from .voices import check_reference

API_V1 = "v1"
REFERENCE_NOT_WAV = "audio_ref must be a WAV file"
REFERENCE_VOICE = {"_id": None, "title": "Reference upload (this job only)", "coverImage": None,
                   "type": "REFERENCE"}


def job_reference_key(account_id: str, job_id: str) -> str:
    """Where a job's own reference recording lives until the job has used it."""
    return f"jobs/{account_id}/{job_id}/reference.wav"


@dataclass(frozen=True)
class CloningSpeechRequest:
    text: str
    fmt: str                          # wav | mp3 (checked by the surface)
    language: str                     # as asked: "auto" or a code
    spoken_language: str              # the language the text is spoken in (detected for "auto")
    speed: float | None = None        # None: natural tempo
    duration_s: float | None = None   # None: natural length; wins over speed
    async_mode: bool = False
    custom_voice_id: str | None = None
    reference: IO[bytes] | None = None  # a WAV upload; exactly one of reference or custom_voice_id


def parameters_of(request: CloningSpeechRequest) -> dict[str, Any]:
    """What the job view keeps of the request, shown by GET /v1/jobs/{id} (pure)."""
    return {"language": request.language, "detected_language": request.spoken_language, "speed": request.speed,
            "duration": request.duration_s, "format": request.fmt, "async_mode": request.async_mode,
            "voice_source": "audio_ref" if request.reference is not None else "custom_voice",
            "custom_voice_id": request.custom_voice_id,
            "text_bytes": len(request.text.encode("utf-8"))}


def request_cloning_speech(ports: Ports, account_id: str, request: CloningSpeechRequest) -> SpeechAccepted:
    """Check the text and the voice (or the reference), reserve the price (1 credit per UTF-8 byte, as
    ``request_speech``) and queue the job.

    Raises InvalidInput, NotFound (voice), InsufficientCredits, ServiceUnavailable."""
    if (request.reference is None) == (request.custom_voice_id is None):
        raise InvalidInput("Provide exactly one of audio_ref or custom_voice_id")
    price = price_of_text(request.text)
    reference_key = None
    if request.custom_voice_id is not None:
        # Only the caller's own USER voices are custom voices (system voices have no UUID).
        voice: Doc = check_voice_ready(ports.store.find_own_voice(account_id, request.custom_voice_id))
    else:
        assert request.reference is not None  # exactly one of the two, checked above
        checked = check_reference(request.reference)
        if checked.type.name != "wav":
            raise InvalidInput(REFERENCE_NOT_WAV)
        voice = REFERENCE_VOICE
    speech_id = ports.new_id("cl", 24)
    now = ports.clock()
    if request.reference is not None:
        reference_key = job_reference_key(account_id, speech_id)
        try:
            ports.blobs.put_file(reference_key, request.reference, "audio/wav")
        except Unavailable as exc:
            raise ServiceUnavailable("Storage is unavailable; nothing was charged. Retry shortly.") from exc
    job = tts_job(speech_id, account_id, request.text, request.fmt, voice, price, now, ports.request_id())
    job = dataclasses.replace(job, api=API_V1, language=request.spoken_language, speed=request.speed,
                              duration_s=request.duration_s, reference_key=reference_key,
                              parameters=parameters_of(request))
    view = {**speech_view_fields(job, now), "api": API_V1, "parameters": job.parameters}

    def write_view() -> None:
        ports.store.apply_job_transition(speech_id, jobs.PENDING_CREDITS, {}, view)

    def forget_reference() -> None:
        if reference_key:
            try:
                ports.blobs.delete(reference_key)
            except Unavailable:
                pass  # an orphaned upload under jobs/ costs storage only

    decided = submit_paid_job(ports, job, write_view, on_unpublished=forget_reference, on_refused=forget_reference)
    return SpeechAccepted(speech_id, request.text, request.fmt, price, job.created_at, decided)


def wait_for_speech(ports: Ports, account_id: str, speech_id: str, timeout_s: float, *,
                    monotonic: Callable[[], float] = time.monotonic) -> Doc | None:
    """The speech view once it has ended (COMPLETED or FAILED), or None when ``timeout_s`` passed first.

    Woken by the job's changes (``jobs.wait_until_ended``), not by polling the store. When the process has no
    waiting slot left it answers None at once: the caller's 202 ``timeout_waiting`` names the job to poll.
    """
    def ended(doc: Doc) -> bool:
        return doc.get("state") in jobs.TERMINAL or doc.get("status") in ("COMPLETED", "FAILED")

    doc = wait_until_ended(ports, speech_id, timeout_s, lambda: get_speech(ports, account_id, speech_id).doc,
                                ended, monotonic=monotonic)
    return doc if ended(doc) else None
