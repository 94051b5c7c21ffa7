"""Request and response schemas of the /v1 surface (shared/seeds/004_5a12b7bad55cf019.txt), snake_case as the
seed spells its fields. They feed the same OpenAPI document as /api/v1 (/api/openapi)."""
from __future__ import annotations

import math
import uuid

from flask_smorest.fields import Upload
from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, pre_load, validate, validates_schema

from schemas import api

from . import languages

MIN_SPEED, MAX_SPEED = 0.25, 4.0
MAX_DURATION_S = 600.0
FORMATS = ("wav", "mp3")
ASYNC_VALUES = ("true", "false")
JOB_STATUSES = ("queued", "processing", "completed", "failed")
MAX_CUSTOM_VOICE_PAGE_SIZE = 100
EXACTLY_ONE_VOICE = "Provide exactly one of audio_ref or custom_voice_id, not both"
NO_VOICE = "Provide exactly one of audio_ref or custom_voice_id (a WAV upload or the UUID of a custom voice)"


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return len(value) in (32, 36)


def _uuid(field_name: str):
    def check(value: str) -> None:
        if not is_uuid(value):
            raise ValidationError(f"{field_name} must be a UUID")
    return check


def _text_bytes(value: str) -> None:
    if len(value.encode("utf-8")) > api.MAX_TTS_BYTES:
        raise ValidationError(f"Text exceeds maximum length of {api.MAX_TTS_BYTES} bytes")
    if not value.strip():
        raise ValidationError("text must not be empty")


class LanguageField(fields.String):
    """`auto` or a supported code, loaded in canonical form (`EN_us` → `en-us`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        raw = super()._deserialize(value, attr, data, **kwargs)
        code = languages.normalize(raw)
        if code is None:
            raise ValidationError(languages.unsupported_message(raw))
        return code


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ValidationError("must be a finite number")


def _blank_is_absent(data, keys):
    """Browsers send empty inputs; an empty text field or a file input with no file counts as absent."""
    out = {}
    for key in keys:
        value = data.get(key, missing)  # webargs' MultiDictProxy answers `missing` for absent keys
        if value is missing or value is None:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
        elif hasattr(value, "filename") and not value.filename and not value.content_length:
            # An <input type=file> left empty arrives as a part with no filename and no bytes.
            head = value.stream.read(1)
            value.stream.seek(0)
            if not head:
                continue
        out[key] = value
    return out


class FileField(Upload):
    """A file part of the multipart body; a plain text field of the same name is refused (400, not a crash)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not hasattr(value, "stream") or not hasattr(value, "filename"):
            raise ValidationError("must be a file sent as a multipart/form-data file part")
        return value


class CloningTtsFormSchema(Schema):
    """POST /v1/voice-cloning/tts, multipart/form-data."""

    class Meta:
        unknown = EXCLUDE

    text = fields.String(required=True, validate=_text_bytes, metadata={
        "description": f"Text to speak (max {api.MAX_TTS_BYTES} UTF-8 bytes; 1 credit per byte)",
        "example": "Thanks for building with Voicechanger.co"})
    language = LanguageField(load_default=languages.AUTO, metadata={
        "description": "Language of the text: `auto` (default, detected from the text) or a supported code: "
                       + ", ".join(languages.supported()),
        "example": "auto"})
    speed = fields.Float(load_default=None, allow_nan=False,
                         validate=[_finite, validate.Range(min=MIN_SPEED, max=MAX_SPEED,
                                                           error="speed must be between {min} and {max}")],
                         metadata={"description": "Tempo, 0.25-4.0 (1.0 = natural; pitch is kept). Omit for "
                                                  "automatic timing", "example": 1.15})
    duration = fields.Float(load_default=None, allow_nan=False,
                            validate=[_finite, validate.Range(min=0, max=MAX_DURATION_S, min_inclusive=False,
                                                              error="duration must be > 0 and <= 600 seconds")],
                            metadata={"description": "Target length of the audio in seconds (> 0, max 600; pitch "
                                                     "is kept). When given it wins over speed", "example": 12,
                                      "exclusiveMinimum": True})
    format = fields.String(load_default="wav", validate=validate.OneOf(FORMATS, error="format must be wav or mp3"),
                           metadata={"description": "Output format: wav (default) or mp3", "example": "wav"})
    async_mode = fields.String(load_default="false",
                               validate=validate.OneOf(ASYNC_VALUES, error="async_mode must be the string true "
                                                                          "or false"),
                               metadata={"description": "`true`: answer at once with the job id; `false` "
                                                        "(default): wait for the result up to the sync limit",
                                         "example": "true"})
    audio_ref = FileField(load_default=None, metadata={
        "description": "Reference speaker as a WAV file (max 20MB), enrolled for this job (not kept as a voice; "
                       "the same file sent again by the same account within V1_REFERENCE_REUSE_S, default 24 h, "
                       "reuses the voice enrolled from it). Exactly one of audio_ref or custom_voice_id"})
    custom_voice_id = fields.String(load_default=None, validate=_uuid("custom_voice_id"), metadata={
        "description": "UUID of one of your custom voices (/v1/custom-voices). Exactly one of audio_ref or "
                       "custom_voice_id", "example": "8f14e45f-ceea-467f-a0e6-2b1d5c2a9b10", "format": "uuid"})

    @pre_load
    def _blanks(self, data, **kwargs):
        return _blank_is_absent(data, ("text", "language", "speed", "duration", "format", "async_mode",
                                       "audio_ref", "custom_voice_id"))

    @validates_schema
    def _one_voice(self, data, **kwargs):
        has_ref, has_voice = data.get("audio_ref") is not None, data.get("custom_voice_id") is not None
        if has_ref and has_voice:
            raise ValidationError(EXACTLY_ONE_VOICE)
        if not has_ref and not has_voice:
            raise ValidationError(NO_VOICE)


class JobParametersSchema(Schema):
    language = fields.String(metadata={"description": "As requested (`auto` or a code)", "example": "auto"})
    detected_language = fields.String(allow_none=True, metadata={
        "description": "The language spoken (the detected one when `auto`)", "example": "en"})
    speed = fields.Float(allow_none=True, metadata={"example": 1.15})
    duration = fields.Float(allow_none=True, metadata={"example": 12})
    format = fields.String(metadata={"example": "wav"})
    async_mode = fields.Boolean(metadata={"example": True})
    voice_source = fields.String(validate=validate.OneOf(("audio_ref", "custom_voice", "voice")), metadata={
        "description": "audio_ref or custom_voice (/v1); voice: an /api/v1 speech (custom_voice_id = its voiceId)",
        "example": "custom_voice"})
    custom_voice_id = fields.String(allow_none=True, metadata={"example": "8f14e45f-ceea-467f-a0e6-2b1d5c2a9b10"})
    text_bytes = fields.Integer(metadata={"example": 40})


class AsyncAcceptedSchema(Schema):
    mode = fields.String(metadata={"example": "async"})
    job_id = fields.String(metadata={"example": "cl0x1y2z3"})
    queued = fields.Boolean(metadata={"example": True})
    credits_reserved = fields.Integer(metadata={"description": "Credits reserved for this job", "example": 40})


class SyncResultSchema(Schema):
    mode = fields.String(metadata={"example": "sync"})
    status = fields.String(validate=validate.OneOf(("completed", "timeout_waiting")), metadata={
        "description": "`completed`: the audio is ready (download_url); `timeout_waiting`: not ready within the "
                       "sync limit, poll GET /v1/jobs/{job_id}", "example": "completed"})
    job_id = fields.String(metadata={"example": "cl0x1y2z3"})
    download_url = fields.String(metadata={"description": "Presigned URL (expires); completed only"})
    mime_type = fields.String(metadata={"example": "audio/wav"})
    format = fields.String(metadata={"example": "wav"})
    duration = fields.Float(metadata={"description": "Seconds of audio", "example": 3.2})
    expires_in = fields.Integer(metadata={"description": "Seconds until download_url expires", "example": 3600})
    credits_used = fields.Integer(metadata={"example": 40})
    waited_s = fields.Float(metadata={"description": "timeout_waiting only: how long the request waited",
                                      "example": 60})


class JobErrorSchema(Schema):
    code = fields.String(metadata={"example": "JOB_FAILED"})
    error = fields.String(metadata={"example": "The reference audio is silent"})
    job_id = fields.String(metadata={"example": "cl0x1y2z3"})


class JobSchema(Schema):
    job_id = fields.String(metadata={"example": "cl0x1y2z3"})
    type = fields.String(metadata={"example": "voice_cloning_tts"})
    status = fields.String(validate=validate.OneOf(JOB_STATUSES), metadata={"example": "completed"})
    created_at = fields.String(metadata={"example": "2026-01-01T00:00:00.000Z"})
    updated_at = fields.String(metadata={"example": "2026-01-01T00:00:04.000Z"})
    started_at = fields.String(allow_none=True, metadata={"example": "2026-01-01T00:00:01.000Z"})
    completed_at = fields.String(allow_none=True, metadata={
        "description": "When the job ended (completed or failed)", "example": "2026-01-01T00:00:04.000Z"})
    error = fields.String(allow_none=True, metadata={"description": "Why the job failed (failed only)"})
    credits_used = fields.Integer(metadata={"example": 40})
    parameters = fields.Nested(JobParametersSchema)
    result = fields.Dict(allow_none=True, metadata={
        "description": "completed only: {format, mime_type, duration}; the URL comes from /result"})
    request_id = fields.String(allow_none=True, metadata={
        "description": "X-Request-Id of the request that made the job (also in its completion event)",
        "example": "req_3f2a9c0d6e1b4a7f8c5d2e9b0a1f6c3d"})


class JobResultSchema(Schema):
    job_id = fields.String(metadata={"example": "cl0x1y2z3"})
    status = fields.String(metadata={"example": "completed"})
    download_url = fields.String(metadata={"description": "Freshly presigned URL (expires)"})
    mime_type = fields.String(metadata={"example": "audio/wav"})
    format = fields.String(metadata={"example": "wav"})
    duration = fields.Float(metadata={"example": 3.2})
    expires_in = fields.Integer(metadata={"example": 3600})


# --- custom voices --------------------------------------------------------------------------------------------------

class CustomVoiceSchema(Schema):
    id = fields.String(metadata={"example": "8f14e45f-ceea-467f-a0e6-2b1d5c2a9b10"})
    name = fields.String(metadata={"example": "Podcast host"})
    description = fields.String(allow_none=True)
    tags = fields.List(fields.String(), metadata={"example": ["male", "warm"]})
    status = fields.String(validate=validate.OneOf(("processing", "ready", "failed")), metadata={
        "description": "processing until enrolment ends; ready: usable as custom_voice_id", "example": "ready"})
    error = fields.String(allow_none=True, metadata={"description": "Why enrolment failed (failed only)"})
    reference_url = fields.String(allow_none=True, metadata={"description": "Presigned URL of the reference"})
    reference_duration = fields.Float(allow_none=True, metadata={"example": 12.4})
    usage_count = fields.Integer(metadata={"example": 3})
    created_at = fields.String(metadata={"example": "2026-01-01T00:00:00.000Z"})
    updated_at = fields.String(metadata={"example": "2026-01-01T00:00:00.000Z"})


class CustomVoiceListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=api.MAX_VOICE_LIST_PAGE),
                          metadata={"description": "Page number, from 1", "example": 1})
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_CUSTOM_VOICE_PAGE_SIZE),
                               metadata={"description": "Items per page (1-100, default 20)", "example": 20})


class CustomVoiceListSchema(Schema):
    items = fields.List(fields.Nested(CustomVoiceSchema))
    page = fields.Integer(metadata={"example": 1})
    page_size = fields.Integer(metadata={"example": 20})
    total = fields.Integer(metadata={"example": 1})
    total_pages = fields.Integer(metadata={"example": 1})
    has_next = fields.Boolean(metadata={"example": False})


def _name(value: str) -> None:
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
        raise ValidationError("name must not contain control characters")


NAME_FIELD = dict(validate=[validate.Length(min=1, max=api.MAX_VOICE_TITLE_CHARS,
                                            error="name must be 1-{max} characters"), _name],
                  metadata={"description": "Voice name (max 100 chars)", "example": "Podcast host"})
DESCRIPTION_FIELD = dict(validate=validate.Length(max=api.MAX_VOICE_DESCRIPTION_CHARS,
                                                  error="description must be at most {max} characters"),
                         metadata={"description": "max 500 chars"})
TAGS_DESCRIPTION = "Tags: JSON array of strings or comma-separated (max 20 of 50 chars)"


class CustomVoiceCreateFormSchema(Schema):
    """POST /v1/custom-voices, multipart/form-data."""

    class Meta:
        unknown = EXCLUDE

    audio = FileField(required=True, error_messages={"required": "audio file is required (WAV, MP3 or WebM, max 20MB)"},
                   metadata={"description": "Reference recording (WAV, MP3, WebM or Ogg; max 20MB; 10 s-5 min of "
                                            "speech). Costs 1000 credits, like /api/v1/voice-clone"})
    name = fields.String(load_default=None, **NAME_FIELD)
    description = fields.String(load_default=None, **DESCRIPTION_FIELD)
    tags = api.TagsField(load_default=list, metadata={"description": TAGS_DESCRIPTION})

    @pre_load
    def _blanks(self, data, **kwargs):
        return _blank_is_absent(data, ("audio", "name", "description", "tags"))


class TagsListField(fields.List):
    """`tags` in a JSON body: a list of strings, cleaned like the form's tags."""

    def _deserialize(self, value, attr, data, **kwargs):
        import json

        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationError("tags must be an array of strings")
        return api.parse_tags(json.dumps(value))


class CustomVoiceUpdateSchema(Schema):
    """PATCH /v1/custom-voices/{id}, JSON: any of name, description, tags (null description clears it)."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(**NAME_FIELD)
    description = fields.String(allow_none=True, **DESCRIPTION_FIELD)
    tags = TagsListField(fields.String(), metadata={"description": "Array of strings (max 20 of 50 chars)"})

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Provide at least one of name, description, tags")


class DeletedSchema(Schema):
    id = fields.String()
    deleted = fields.Boolean(metadata={"example": True})
