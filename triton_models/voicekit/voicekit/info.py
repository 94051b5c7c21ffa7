"""What the models in this repository offer, as a JSON-ready dict (the `voicekit` model's INFO output)."""
from __future__ import annotations

from . import __version__
from .codecs import FORMATS, mime_type
from .flite import VOICES, Flite
from .tts import MAX_SPEED, MAX_TEXT_BYTES, MIN_SPEED


def describe(flite: Flite | None = None) -> dict:
    installed = (flite or Flite()).installed_voices()
    return {
        "voicekit_version": __version__,
        "voices": [
            {"name": v.name, "sample_rate": v.sample_rate, "gender": v.gender, "description": v.description}
            for v in VOICES.values() if v.name in installed
        ],
        "formats": {fmt: mime_type(fmt, 16000).replace("16000", "<sample_rate>") for fmt in FORMATS},
        "speed": {"min": MIN_SPEED, "max": MAX_SPEED},
        "max_text_bytes": MAX_TEXT_BYTES,
    }
