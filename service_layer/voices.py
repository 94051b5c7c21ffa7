"""Voice use cases: clone a voice (paid), list, read, update and delete voices.

A clone request's reference recording is checked (type by content, size, readable audio) and stored first
(claim check: events carry the object key, never the bytes); then the clone job (job id = voice id) is reserved
like every paid job. The voice is PROCESSING until the clone stage enrolled it (COMPLETED) or FAILED.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from schemas import events as ev
from schemas import jobs
from schemas import messages as msg
from schemas.limits import (
    INVALID_VOICE_FILE_TYPE,
    MAX_COVER_IMAGE_URL_CHARS,
    MAX_VOICE_DESCRIPTION_CHARS,
    MAX_VOICE_FILE_BYTES,
    MAX_VOICE_TAGS,
    MAX_VOICE_TITLE_CHARS,
    VOICE_CLONE_CREDITS,
    VOICE_FILE_TOO_LARGE,
)

from . import audio
from .errors import InvalidInput, NotFound, ServiceUnavailable
from .paid_jobs import submit_paid_job
from .ports import Doc, Ports, Unavailable

log = logging.getLogger(__name__)

VOICE_NOT_FOUND = "Voice not found or not available"
STORAGE_DOWN = "Storage is unavailable; nothing was charged. Retry shortly."


def default_title(now: datetime) -> str:
    return f"Voice {now.astimezone(timezone.utc):%Y-%m-%d %H:%M}"


def voice_reference_key(account_id: str, voice_id: str, extension: str) -> str:
    """Where a voice's uploaded reference recording lives: voices/<account>/<voice>/reference.<ext>."""
    return f"voices/{account_id}/{voice_id}/reference.{extension}"


# --- clone ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckedAudio:
    type: audio.AudioType
    size: int
    duration: float


def check_reference(stream: IO[bytes]) -> CheckedAudio:
    """Size, type by content and duration of an uploaded reference; InvalidInput when it is not usable audio.
    The stream is left at position 0."""
    size = audio.file_size(stream)
    if size > MAX_VOICE_FILE_BYTES:
        raise InvalidInput(VOICE_FILE_TOO_LARGE)
    stream.seek(0)
    audio_type = audio.sniff_audio(stream.read(64))
    stream.seek(0)
    if audio_type is None:
        raise InvalidInput(INVALID_VOICE_FILE_TYPE)
    duration = audio.probe_duration(stream, audio_type)
    if duration is None:
        raise InvalidInput(f"Invalid audio file: the {audio_type.name.upper()} file could not be read "
                           f"(damaged, or no audio track)")
    return CheckedAudio(audio_type, size, duration)


@dataclass(frozen=True)
class VoiceDetails:
    """The caller's metadata for a voice (already validated by the surface's schema)."""
    title: str | None = None
    description: str | None = None
    cover_image: str | None = None
    tags: list[str] = field(default_factory=list)


def clone_job(voice_id: str, account_id: str, details: VoiceDetails, checked: CheckedAudio, key: str,
              now: datetime, request_id: str | None = None) -> msg.CloneJob:
    """The job a clone reservation carries to the orchestrator (pure)."""
    return msg.CloneJob(
        job_id=voice_id,
        account_id=account_id,
        voice_id=voice_id,
        title=details.title or default_title(now),
        description=details.description,
        cover_image=details.cover_image,
        tags=tuple(details.tags),
        duration=round(checked.duration, 2),
        reference_key=key,
        reference_mime_type=checked.type.mime_type,
        reference_format=checked.type.name,
        reference_bytes=checked.size,
        credits_used=VOICE_CLONE_CREDITS,
        created_at=ev.iso_millis(now),
        request_id=request_id,
    )


@dataclass(frozen=True)
class CloneAccepted:
    voice_id: str
    job: dict[str, Any]  # title, description, coverImage, tags, duration, createdAt as stored
    audio_url: str  # presigned URL of the reference
    decided: bool  # False: no ledger decision in time; the request is queued (HTTP 202)


def _forget(ports: Ports, key: str) -> None:
    try:
        ports.blobs.delete(key)
    except Unavailable as exc:
        log.warning("could not delete unused reference %s: %s", key, exc)


def clone_voice(ports: Ports, account_id: str, reference: IO[bytes], details: VoiceDetails) -> CloneAccepted:
    """Check and store the reference, reserve 1000 credits and queue the clone job.

    Raises InvalidInput (audio), ServiceUnavailable (storage or queue), InsufficientCredits."""
    checked = check_reference(reference)
    now = ports.clock()
    voice_id = ports.new_voice_id()
    key = voice_reference_key(account_id, voice_id, checked.type.extension)
    try:
        ports.blobs.put_file(key, reference, checked.type.mime_type)
    except Unavailable as exc:
        log.warning("reference upload to %s failed: %s", key, exc)
        raise ServiceUnavailable(STORAGE_DOWN) from exc
    job = clone_job(voice_id, account_id, details, checked, key, now, ports.request_id())
    view = jobs.clone_job_view(job.to_dict(), now)

    def write_view() -> None:
        ports.store.apply_voice_transition(voice_id, jobs.PENDING_CREDITS, {}, view)

    def refused() -> None:
        ports.store.apply_voice_transition(voice_id, jobs.REJECTED,
                                           {"updatedAt": now, "error": "Insufficient credits"}, view)
        _forget(ports, key)

    decided = submit_paid_job(ports, job, write_view, on_unpublished=lambda: _forget(ports, key),
                              on_refused=refused)
    return CloneAccepted(voice_id, job.to_dict(), ports.blobs.presigned_url(key), decided)


# --- list and read -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VoicePage:
    voices: list[Doc]
    page: int
    limit: int
    total: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.limit) if self.total else 0


def list_voices(ports: Ports, account_id: str, *, page: int = 1, limit: int = 20, status: str | None = None,
                voice_type: str | None = None, sort_by: str = "createdAt", descending: bool = True) -> VoicePage:
    """One page of the caller's USER voices and the public SYSTEM voices (``voice_type`` narrows to one)."""
    if page < 1 or limit < 1:
        raise InvalidInput("page and limit must be at least 1")
    docs, total = ports.store.list_voices(account_id, status=status, voice_type=voice_type, sort_by=sort_by,
                                          descending=descending, skip=(page - 1) * limit, limit=limit)
    return VoicePage(docs, page, limit, total)


def get_voice(ports: Ports, account_id: str, voice_id: str, *, include_system: bool = True) -> Doc:
    """The caller's own voice (or, with ``include_system``, a public system voice); NotFound otherwise.
    A refused or deleted voice never existed for the caller."""
    if include_system:
        doc = ports.store.find_usable_voice(account_id, voice_id)
    else:
        doc = ports.store.find_own_voice(account_id, voice_id)
    if doc is None:
        raise NotFound(VOICE_NOT_FOUND)
    return doc


# --- update and delete (the caller's own voices only) --------------------------------------------------------------

@dataclass(frozen=True)
class VoiceChanges:
    """Fields to change; None leaves a field as it is."""
    title: str | None = None
    description: str | None = None
    cover_image: str | None = None
    tags: list[str] | None = None


def change_fields(changes: VoiceChanges, now: datetime) -> dict[str, Any]:
    """The voice document's fields to set (pure); InvalidInput for an empty or out-of-bounds change."""
    fields: dict[str, Any] = {}
    if changes.title is not None:
        title = changes.title.strip()
        if not title or len(title) > MAX_VOICE_TITLE_CHARS:
            raise InvalidInput(f"title must be 1 to {MAX_VOICE_TITLE_CHARS} characters")
        fields["title"] = title
    if changes.description is not None:
        if len(changes.description) > MAX_VOICE_DESCRIPTION_CHARS:
            raise InvalidInput(f"Description exceeds maximum length of {MAX_VOICE_DESCRIPTION_CHARS} characters")
        fields["description"] = changes.description
    if changes.cover_image is not None:
        if len(changes.cover_image) > MAX_COVER_IMAGE_URL_CHARS:
            raise InvalidInput(f"coverImage must be at most {MAX_COVER_IMAGE_URL_CHARS} characters")
        fields["coverImage"] = changes.cover_image
    if changes.tags is not None:
        if len(changes.tags) > MAX_VOICE_TAGS:
            raise InvalidInput(f"at most {MAX_VOICE_TAGS} tags are allowed")
        fields["tags"] = list(changes.tags)
    if not fields:
        raise InvalidInput("nothing to update: give title, description, coverImage or tags")
    fields["updatedAt"] = now
    return fields


def update_voice(ports: Ports, account_id: str, voice_id: str, changes: VoiceChanges) -> Doc:
    """Change the metadata of one of the caller's own voices; returns the updated voice. NotFound for any
    other voice (system voices included)."""
    fields = change_fields(changes, ports.clock())
    doc = ports.store.update_own_voice(account_id, voice_id, fields)
    if doc is None:
        raise NotFound(VOICE_NOT_FOUND)
    return doc


def stored_objects(voice: Doc) -> list[str]:
    """The S3 keys a voice owns: its reference recording and, when stored apart, its profile (pure)."""
    return [str(voice[k]) for k in ("audioKey", "profileKey") if voice.get(k)]


def delete_voice(ports: Ports, account_id: str, voice_id: str) -> None:
    """Delete one of the caller's own voices: its S3 objects first (a storage outage changes nothing), then its
    view, which leaves a tombstone so a clone job still in flight cannot bring it back.

    Raises NotFound (not the caller's voice) and ServiceUnavailable (storage down)."""
    voice = get_voice(ports, account_id, voice_id, include_system=False)
    try:
        for key in stored_objects(voice):
            ports.blobs.delete(key)
    except Unavailable as exc:
        raise ServiceUnavailable("Storage is unavailable; the voice was not deleted. Retry shortly.") from exc
    if not ports.store.delete_own_voice(account_id, voice_id, ports.clock()):
        raise NotFound(VOICE_NOT_FOUND)
