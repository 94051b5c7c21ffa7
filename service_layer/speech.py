"""Text-to-speech use cases: request speech (paid, asynchronous) and read a speech job."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from schemas import events as ev
from schemas import jobs
from schemas import messages as msg
from schemas.limits import AUDIO_FORMATS, MAX_TTS_BYTES

from .errors import InvalidInput, NotFound
from .paid_jobs import submit_paid_job
from .ports import Doc, Ports

VOICE_NOT_FOUND = "Voice not found or not available"
SPEECH_NOT_FOUND = "Speech not found or access denied"


ALLOWED_CONTROLS = frozenset("\t\n\r")


def check_text_characters(text: str) -> None:
    """Refuse (never silently clean: the price is the bytes sent) control characters other than tab, newline
    and carriage return, and lone surrogates, which no UTF-8 store or model can take (pure; docs/api-decisions.md).
    """
    for position, char in enumerate(text):
        if char.isprintable() or char in ALLOWED_CONTROLS or char == " ":
            continue
        category = unicodedata.category(char)
        if category == "Cc" or category == "Cs":
            kind = "a lone surrogate" if category == "Cs" else "a control character"
            raise InvalidInput(f"text must not contain {kind} (U+{ord(char):04X} at position {position}); "
                               "only tab, newline and carriage return are allowed")


def price_of_text(text: str) -> int:
    """1 credit per UTF-8 byte; raises :class:`InvalidInput` for empty or over-long text and for characters
    :func:`check_text_characters` refuses (pure)."""
    too_long = InvalidInput(f"Text exceeds maximum length of {MAX_TTS_BYTES} bytes")
    if len(text) > MAX_TTS_BYTES:  # each character is at least one byte: no need to look at a long text
        raise too_long
    check_text_characters(text)
    price = len(text.encode("utf-8"))
    if price > MAX_TTS_BYTES:
        raise too_long
    if not text.strip():
        raise InvalidInput("text must not be empty")
    return price


def check_format(fmt: str) -> str:
    if fmt not in AUDIO_FORMATS:
        raise InvalidInput(f"format must be one of: {', '.join(AUDIO_FORMATS)}")
    return fmt


def check_voice_ready(voice: Doc | None) -> Doc:
    """The voice, if speech can be made with it (pure)."""
    if voice is None:
        raise NotFound(VOICE_NOT_FOUND)
    if voice.get("status") == "FAILED":
        raise InvalidInput("Voice cloning failed for this voice; it cannot be used for speech")
    if voice.get("status") != "COMPLETED":
        raise InvalidInput(f"Voice is not ready (status {voice.get('status')}); wait until it is COMPLETED")
    return voice


def voice_summary(voice: Doc) -> dict[str, Any]:
    return {"id": voice["_id"], "title": voice.get("title"), "coverImage": voice.get("coverImage"),
            "type": voice.get("type")}


def tts_job(speech_id: str, account_id: str, text: str, fmt: str, voice: Doc, price: int,
            now: datetime, request_id: str | None = None) -> msg.TtsJob:
    """The job a TTS reservation carries to the orchestrator (pure)."""
    return msg.TtsJob(
        job_id=speech_id,
        account_id=account_id,
        text=text,
        format=cast(msg.AudioFormat, check_format(fmt)),
        voice=msg.VoiceSummary.from_dict(voice_summary(voice)),
        engine_voice=voice.get("engineVoice"),
        profile=None,  # stored once in the voice's view; the orchestrator reads it by voice id (events stay small)
        credits_used=price,
        created_at=ev.iso_millis(now),
        request_id=request_id,
    )


def speech_view_fields(job: msg.TtsJob, now: datetime) -> dict[str, Any]:
    """The speech view's fields when the request is recorded (pure)."""
    return {
        "accountId": job.account_id,
        "kind": job.kind,
        "text": job.text,
        "format": job.format,
        "voice": job.voice.to_dict(),
        "voiceId": job.voice.id,
        "creditsUsed": job.credits_used,
        "audioKey": None,
        "duration": None,
        "error": None,
        "createdAt": now,
        "updatedAt": now,
        **({"requestId": job.request_id} if job.request_id else {}),  # the X-Request-Id that made it
    }


@dataclass(frozen=True)
class SpeechAccepted:
    speech_id: str
    text: str
    format: str
    credits_used: int
    created_at: str  # ISO-8601 with milliseconds
    decided: bool  # False: no ledger decision in time; the request is queued (HTTP 202)
    status: str = "PROCESSING"


def request_speech(ports: Ports, account_id: str, voice_id: str, text: str, fmt: str) -> SpeechAccepted:
    """Check the text and the voice, reserve the price and queue the job.

    Raises InvalidInput, NotFound (voice), InsufficientCredits, ServiceUnavailable."""
    price = price_of_text(text)
    check_format(fmt)
    voice = check_voice_ready(ports.store.find_usable_voice(account_id, voice_id))
    speech_id = ports.new_id("cl", 24)
    now = ports.clock()
    job = tts_job(speech_id, account_id, text, fmt, voice, price, now, ports.request_id())

    def write_view() -> None:
        ports.store.apply_job_transition(speech_id, jobs.PENDING_CREDITS, {}, speech_view_fields(job, now))

    decided = submit_paid_job(ports, job, write_view)
    return SpeechAccepted(speech_id, text, fmt, price, job.created_at, decided)


@dataclass(frozen=True)
class Speech:
    doc: Doc  # the speech view (MongoDB ``speeches``)
    audio_url: str | None  # presigned, once COMPLETED

    @property
    def status(self) -> str | None:
        status = self.doc.get("status")
        return None if status is None else str(status)


def get_speech(ports: Ports, account_id: str, speech_id: str) -> Speech:
    """The caller's speech job with a fresh audio URL once completed; NotFound otherwise (any other tenant's)."""
    doc = ports.store.find_speech(account_id, speech_id)
    if doc is None:
        raise NotFound(SPEECH_NOT_FOUND)
    audio_url = None
    if doc.get("status") == "COMPLETED" and doc.get("audioKey"):
        audio_url = ports.blobs.presigned_url(doc["audioKey"])
    return Speech(doc, audio_url)
