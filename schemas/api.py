"""HTTP request and response schemas (marshmallow), the source of the OpenAPI document.

Field names, defaults and bounds follow shared/seeds/000_608b8610c4e75f51.txt exactly.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

MAX_TTS_BYTES = 5000
AUDIO_FORMATS = ("mp3", "wav", "opus", "pcm")
SPEECH_STATUSES = ("PROCESSING", "COMPLETED", "FAILED")
VOICE_TYPES = ("USER", "SYSTEM")


class ErrorBodySchema(Schema):
    code = fields.String(required=True, metadata={"example": "INVALID_PARAMETERS"})
    error = fields.String(required=True, metadata={"example": "Text exceeds maximum length of 5000 bytes"})


class UsageLimitErrorSchema(ErrorBodySchema):
    credits = fields.Integer(required=True, metadata={"example": 10})
    needCredits = fields.Integer(required=True, metadata={"example": 29})


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
