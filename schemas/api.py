"""HTTP request and response schemas (marshmallow), the source of the OpenAPI document.

Field names, defaults and bounds follow shared/seeds/000_608b8610c4e75f51.txt exactly.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, fields, pre_load, validate

# Prices and bounds live in schemas.limits (no Flask there), shared with the service layer.
from .limits import (  # noqa: F401 (re-exported)
    AUDIO_FORMATS,
    INVALID_VOICE_FILE_TYPE,
    MAX_COVER_IMAGE_URL_CHARS,
    MAX_TTS_BYTES,
    MAX_VOICE_DESCRIPTION_CHARS,
    MAX_VOICE_FILE_BYTES,
    MAX_VOICE_TAG_CHARS,
    MAX_VOICE_TAGS,
    MAX_VOICE_TITLE_CHARS,
    VOICE_CLONE_CREDITS,
    VOICE_FILE_TOO_LARGE,
)

SPEECH_STATUSES = ("PROCESSING", "COMPLETED", "FAILED")
VOICE_TYPES = ("USER", "SYSTEM")


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "INVALID_PARAMETERS"})
    error = fields.String(required=True, metadata={"example": "Text exceeds maximum length of 5000 bytes"})
    requestId = fields.String(metadata={
        "example": "req_3f2a9c0d6e1b4a7f8c5d2e9b0a1f6c3d",
        "description": "The request's id, as in its X-Request-Id header: quote it when asking for support"})


class UsageLimitErrorSchema(ErrorBodySchema):
    credits = fields.Integer(required=True, metadata={"example": 10})
    needCredits = fields.Integer(required=True, metadata={"example": 29})


MAX_WAIT_S = 30  # service_layer.jobs.MAX_WAIT_S


class WaitQuerySchema(Schema):
    """``?wait=`` on a job read: answer as soon as the job ends, or after this many seconds with its state then."""
    wait = fields.Float(
        load_default=0.0, validate=validate.Range(min=0, max=MAX_WAIT_S,
                                                  error=f"wait must be between 0 and {MAX_WAIT_S} seconds"),
        metadata={"description": "Seconds to wait for the job to end (0-30; default 0: answer at once). The "
                                 "answer comes as soon as the job completes or fails, else at the deadline with "
                                 "the current state.", "example": 20})


class TtsRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    text = fields.String(
        required=True,
        metadata={"description": "Text to convert to speech (max 5000 UTF-8 bytes)",
                  "example": "Hello, this is a test speech."},
    )
    voiceId = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Voice ID (user's cloned voice or public system voice)", "example": "clxxxx"},
    )
    format = fields.String(
        load_default="mp3",
        validate=validate.OneOf(AUDIO_FORMATS, error="format must be one of: mp3, wav, opus, pcm"),
        metadata={"description": "Output format", "example": "mp3"},
    )


class SpeechVoiceSchema(Schema):
    id = fields.String()
    title = fields.String()
    coverImage = fields.String(allow_none=True)
    type = fields.String(validate=validate.OneOf(VOICE_TYPES))


class SpeechAcceptedSchema(Schema):
    id = fields.String(metadata={"example": "clxxxx"})
    text = fields.String(metadata={"example": "Hello, this is a test speech."})
    format = fields.String(metadata={"example": "mp3"})
    status = fields.String(metadata={"example": "PROCESSING"})
    creditsUsed = fields.Integer(metadata={"example": 29})
    createdAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})


class TtsResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    speechId = fields.String(metadata={"example": "clxxxx"})
    creditsUsed = fields.Integer(metadata={"example": 29})
    speech = fields.Nested(SpeechAcceptedSchema)


class SpeechSchema(Schema):
    id = fields.String(metadata={"example": "clxxxx"})
    text = fields.String(metadata={"example": "Hello, this is a test speech."})
    audioUrl = fields.String(allow_none=True,
                             metadata={"example": "https://your-storage.com/speeches/user123/speech.mp3"})
    format = fields.String(metadata={"example": "mp3"})
    duration = fields.Float(allow_none=True, metadata={"example": 3.5})
    status = fields.String(validate=validate.OneOf(SPEECH_STATUSES), metadata={"example": "COMPLETED"})
    creditsUsed = fields.Integer(metadata={"example": 29})
    error = fields.String(allow_none=True, metadata={"description": "Why the speech failed (FAILED only)"})
    createdAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})
    updatedAt = fields.String(metadata={"example": "2024-01-01T00:00:15.000Z"})
    voice = fields.Nested(SpeechVoiceSchema)


class SpeechStatusResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    speech = fields.Nested(SpeechSchema)


class CreditsBreakdownSchema(Schema):
    regular = fields.Integer(metadata={"example": 3000})
    permanent = fields.Integer(metadata={"example": 2000})
    resetAt = fields.String(allow_none=True, metadata={"example": "2024-02-01T00:00:00.000Z"})


class CreditsResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    credits = fields.Integer(metadata={"example": 5000})
    breakdown = fields.Nested(CreditsBreakdownSchema)


class ApiKeySchema(Schema):
    id = fields.String(metadata={"example": "key_2b7f9q0c1d3e4f5g"})
    name = fields.String(allow_none=True, metadata={"example": "CI pipeline"})
    prefix = fields.String(metadata={"description": "The key's first characters, to recognise it",
                                     "example": "vf_AbC12"})
    createdAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})
    revokedAt = fields.String(allow_none=True, metadata={"example": None})


class ApiKeyListResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    keys = fields.List(fields.Nested(ApiKeySchema))


class ApiKeyCreateRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100),
                         metadata={"description": "A label for the key (max 100 chars)", "example": "CI pipeline"})


class ApiKeyCreatedResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    apiKey = fields.String(metadata={"description": "The secret key. Shown only once: store it now.",
                                     "example": "vf_3q1b…"})
    key = fields.Nested(ApiKeySchema)


class SuccessSchema(Schema):
    success = fields.Boolean(metadata={"example": True})


# --- credit usage history (GET /api/v1/credits/history) ---------------------------------------------------------------

USAGE_TYPES = ("grant", "reservation", "refusal", "capture", "release", "reset")
MAX_HISTORY_PAGE = 100


class UsageHistoryQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(
        load_default=20, validate=validate.Range(min=1, max=MAX_HISTORY_PAGE),
        metadata={"description": f"Entries per page (1-{MAX_HISTORY_PAGE})", "example": 20})
    cursor = fields.String(
        load_default=None, validate=validate.Length(min=1, max=200),
        metadata={"description": "Opaque: the previous page's nextCursor. Omit for the newest entries."})


class UsageBalanceSchema(Schema):
    credits = fields.Integer(metadata={"example": 4971})
    regular = fields.Integer(metadata={"example": 2971})
    permanent = fields.Integer(metadata={"example": 2000})
    reserved = fields.Integer(metadata={"description": "Credits held by jobs not finished yet", "example": 29})


class UsageEntrySchema(Schema):
    id = fields.String(metadata={"description": "The ledger event's id", "example": "0b8f…"})
    type = fields.String(validate=validate.OneOf(USAGE_TYPES), metadata={
        "description": "grant: credits added; reservation: held for a job; refusal: a job refused for lack of "
                       "credits (nothing held); capture: a job's price spent; release: a job ended without "
                       "charge, credits returned; reset: monthly allowance restored",
        "example": "capture"})
    amount = fields.Integer(metadata={"description": "Credits granted, held, needed, spent or returned",
                                      "example": 29})
    jobId = fields.String(allow_none=True, metadata={"description": "The speech or voice job", "example": "clxxxx"})
    creditKind = fields.String(allow_none=True, metadata={"description": "grant only: regular or permanent",
                                                          "example": None})
    reason = fields.String(allow_none=True, metadata={"description": "grant and release only", "example": None})
    forfeited = fields.Integer(metadata={
        "description": "Regular credits of an ended monthly period that were not returned", "example": 0})
    at = fields.String(metadata={"example": "2024-01-01T00:00:15.000Z"})
    balanceAfter = fields.Nested(UsageBalanceSchema)


class UsageHistoryResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    items = fields.List(fields.Nested(UsageEntrySchema))
    nextCursor = fields.String(allow_none=True, metadata={
        "description": "Pass as `cursor` for the next (older) page; null on the last page", "example": None})


# --- voices (POST /api/v1/voice-clone, GET /api/v1/voices) ------------------------------------------------------------

VOICE_STATUSES = ("PROCESSING", "COMPLETED", "FAILED")
VOICE_SORT_FIELDS = ("createdAt", "updatedAt", "title", "duration", "popularity")
SORT_ORDERS = ("asc", "desc")
MAX_VOICE_LIST_PAGE = 1_000_000
TAGS_FORMAT_ERROR = "tags must be a JSON array of strings or a comma-separated string"


def _has_control_characters(text: str) -> bool:
    # Lone surrogates (from a "\ud800" escape) count too: no UTF-8 store can take them.
    return any(ord(ch) < 32 or 127 <= ord(ch) < 160 or 0xD800 <= ord(ch) < 0xE000 for ch in text)


def parse_tags(raw: str) -> list[str]:
    """Tags from a JSON array of strings (``["male","energetic"]``) or a comma-separated string
    (``male, energetic``): trimmed, empty ones dropped, duplicates (case-insensitive) dropped, order kept."""
    import json

    from marshmallow import ValidationError

    text = raw.strip()
    if not text:
        return []
    if text[0] in "[{\"":
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            raise ValidationError(TAGS_FORMAT_ERROR) from None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise ValidationError(TAGS_FORMAT_ERROR)
    else:
        items = text.split(",")
    tags: list[str] = []
    seen: set[str] = set()
    for item in items:
        tag = item.strip()
        if not tag:
            continue
        if len(tag) > MAX_VOICE_TAG_CHARS:
            raise ValidationError(f"each tag must be at most {MAX_VOICE_TAG_CHARS} characters")
        if _has_control_characters(tag):
            raise ValidationError("tags must not contain control characters")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    if len(tags) > MAX_VOICE_TAGS:
        raise ValidationError(f"at most {MAX_VOICE_TAGS} tags are allowed")
    return tags


class TagsField(fields.String):
    """A string in the form (JSON array or comma-separated), loaded as a list of tags."""

    # A String on the wire (and in the OpenAPI document) that loads as a list: hence the narrower override.
    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,  # type: ignore[override]
                     **kwargs: Any) -> list[str]:
        return parse_tags(super()._deserialize(value, attr, data, **kwargs))


def _validate_cover_image(url: str) -> None:
    from urllib.parse import urlsplit

    from marshmallow import ValidationError

    message = "coverImage must be an http or https URL"
    if len(url) > MAX_COVER_IMAGE_URL_CHARS:
        return  # reported by the length check
    validate.URL(relative=False, schemes={"http", "https"}, require_tld=False, error=message)(url)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValidationError("coverImage must not contain credentials")


def _no_control_characters(value: str) -> None:
    from marshmallow import ValidationError

    if _has_control_characters(value):
        raise ValidationError("title must not contain control characters")


class VoiceCloneFormSchema(Schema):
    """multipart/form-data: the ``voice`` file plus optional text fields (blank fields count as absent)."""

    class Meta:
        unknown = EXCLUDE

    voice = Upload(required=True, error_messages={"required": "voice file is required (MP3, WAV or WebM, max 20MB)"},
                   metadata={"description": "Audio file (MP3, WAV, WebM; Ogg also accepted), max 20MB. The type is "
                                            "recognised from the file's content, not its name."})
    title = fields.String(load_default=None,
                          validate=[validate.Length(max=MAX_VOICE_TITLE_CHARS,
                                                    error="Title exceeds maximum length of {max} characters"),
                                    _no_control_characters],
                          metadata={"description": "Voice name (auto-generated if not provided, max 100 chars)",
                                    "example": "My Voice Clone"})
    description = fields.String(load_default=None,
                                validate=validate.Length(
                                    max=MAX_VOICE_DESCRIPTION_CHARS,
                                    error="Description exceeds maximum length of {max} characters"),
                                metadata={"description": "Voice description (max 500 chars)",
                                          "example": "A custom voice description"})
    coverImage = fields.String(load_default=None,
                               validate=[validate.Length(max=MAX_COVER_IMAGE_URL_CHARS,
                                                         error="coverImage must be at most {max} characters"),
                                         _validate_cover_image],
                               metadata={"description": "Cover image URL (http or https, max 2048 chars; stored "
                                                        "as given, never fetched)",
                                         "example": "https://example.com/cover.jpg"})
    tags = TagsField(load_default=list,
                     metadata={"description": "Tags as JSON array or comma-separated string (max 20 tags of "
                                              "50 chars)", "example": '["male","young","energetic"]'})

    @pre_load
    def _blank_is_absent(self, data: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        from marshmallow import missing

        out = {}
        for key in ("voice", "title", "description", "coverImage", "tags"):
            value = data.get(key, missing)  # webargs' MultiDictProxy answers `missing` for absent keys
            if value is missing or value is None:
                continue
            if isinstance(value, str):
                value = value.strip()
                if not value and key != "voice":
                    continue
            out[key] = value
        return out


class ClonedVoiceSchema(Schema):
    id = fields.String(metadata={"example": "clxxxx"})
    title = fields.String(metadata={"example": "My Voice Clone"})
    description = fields.String(allow_none=True, metadata={"example": "A custom voice description"})
    coverImage = fields.String(allow_none=True, metadata={"example": "https://example.com/cover.jpg"})
    audioUrl = fields.String(allow_none=True, metadata={
        "description": "Presigned URL of the uploaded reference audio (expires)",
        "example": "https://your-storage.com/voices/user123/1234567890-voice.mp3"})
    duration = fields.Float(allow_none=True, metadata={"description": "Seconds of audio in the upload",
                                                       "example": 125.3})
    tags = fields.List(fields.String(), metadata={"example": ["male", "young"]})
    createdAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})


class VoiceCloneResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    voiceId = fields.String(metadata={"example": "clxxxx"})
    voice = fields.Nested(ClonedVoiceSchema)


class VoiceListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_VOICE_LIST_PAGE),
                          metadata={"description": "Page number (default: 1, min: 1)", "example": 1})
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100),
                           metadata={"description": "Items per page (default: 20, min: 1, max: 100)", "example": 20})
    status = fields.String(validate=validate.OneOf(VOICE_STATUSES),
                           metadata={"description": "Filter by status: PROCESSING, COMPLETED, FAILED",
                                     "example": "COMPLETED"})
    type = fields.String(validate=validate.OneOf(VOICE_TYPES),
                         metadata={"description": "Filter by type: USER, SYSTEM", "example": "USER"})
    sortBy = fields.String(load_default="createdAt", validate=validate.OneOf(VOICE_SORT_FIELDS),
                           metadata={"description": "Sort field: createdAt, updatedAt, title, duration, popularity "
                                                    "(default: createdAt)", "example": "createdAt"})
    sortOrder = fields.String(load_default="desc", validate=validate.OneOf(SORT_ORDERS),
                              metadata={"description": "Sort order: asc, desc (default: desc)", "example": "desc"})


class VoiceListItemSchema(Schema):
    id = fields.String(metadata={"description": "Voice ID (use this for TTS requests)", "example": "clxxxx"})
    title = fields.String(metadata={"example": "My Voice Clone"})
    description = fields.String(allow_none=True, metadata={"example": "A custom voice description"})
    coverImage = fields.String(allow_none=True, metadata={"example": "https://example.com/cover.jpg"})
    audioUrl = fields.String(allow_none=True, metadata={
        "description": "Presigned URL of the reference audio (USER voices); null for SYSTEM voices",
        "example": "https://your-storage.com/voices/user123/voice.mp3"})
    duration = fields.Float(allow_none=True, metadata={"example": 125})
    status = fields.String(validate=validate.OneOf(VOICE_STATUSES), metadata={"example": "COMPLETED"})
    type = fields.String(validate=validate.OneOf(VOICE_TYPES), metadata={"example": "USER"})
    isPublic = fields.Boolean(metadata={"example": False})
    popularity = fields.Integer(metadata={"example": 0})
    tags = fields.List(fields.String(), metadata={"example": ["male", "young"]})
    usageCount = fields.Integer(metadata={"description": "Number of times this voice has been used for TTS",
                                          "example": 15})
    error = fields.String(metadata={"description": "Why cloning failed (FAILED voices only)"})
    createdAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})
    updatedAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})


class PaginationSchema(Schema):
    page = fields.Integer(metadata={"example": 1})
    limit = fields.Integer(metadata={"example": 20})
    total = fields.Integer(metadata={"example": 1})
    totalPages = fields.Integer(metadata={"example": 1})
    hasNext = fields.Boolean(metadata={"example": False})
    hasPrev = fields.Boolean(metadata={"example": False})


class VoiceListResponseSchema(Schema):
    success = fields.Boolean(metadata={"example": True})
    voices = fields.List(fields.Nested(VoiceListItemSchema))
    pagination = fields.Nested(PaginationSchema)
