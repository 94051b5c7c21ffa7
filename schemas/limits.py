"""Prices, limits and fixed messages of the public API (pure constants, no Flask or marshmallow).

The HTTP schemas (`schemas.api`) and the application service layer (`service_layer`) both read them here, so a
price or a bound is written once.
"""
from __future__ import annotations

MAX_TTS_BYTES = 5000
AUDIO_FORMATS = ("mp3", "wav", "opus", "pcm")

VOICE_CLONE_CREDITS = 1000
MAX_VOICE_FILE_BYTES = 20 * 1024 * 1024  # "max 20MB": 20 MiB
MAX_VOICE_TITLE_CHARS = 100
MAX_VOICE_DESCRIPTION_CHARS = 500
MAX_COVER_IMAGE_URL_CHARS = 2048
MAX_VOICE_TAGS = 20
MAX_VOICE_TAG_CHARS = 50
INVALID_VOICE_FILE_TYPE = "Invalid file type. Supported formats: MP3, WAV, WebM"
VOICE_FILE_TOO_LARGE = "File size exceeds 20MB limit"
