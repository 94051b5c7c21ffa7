"""What the models in this repository offer, as a JSON-ready dict (the `voicekit` model's INFO output)."""
from __future__ import annotations

from pathlib import Path

from . import __version__, kokoro
from .codecs import FORMATS, mime_type
from .flite import VOICES, Flite
from .g2p import LANGUAGES
from .tts import MAX_SPEED, MAX_TEXT_BYTES, MIN_SPEED

_FLITE_LANGUAGE = {"awb": "en-gb"}  # the others are US English


def describe(flite: Flite | None = None, kokoro_dir: Path | None = None) -> dict:
    installed = (flite or Flite()).installed_voices()
    voices_dir = (kokoro_dir or kokoro.assets_dir()) / "voices"
    stock = [kokoro.stock_voice(path.stem) for path in sorted(voices_dir.glob("*.bin"))]
    return {
        "voicekit_version": __version__,
        "voices": [
            {"name": v.name, "sample_rate": kokoro.SAMPLE_RATE, "gender": v.gender, "language": v.language,
             "description": v.description, "engine": "kokoro"}
            for v in stock if v is not None
        ] + [
            {"name": v.name, "sample_rate": v.sample_rate, "gender": v.gender,
             "language": _FLITE_LANGUAGE.get(v.name, "en-us"), "description": v.description, "engine": "flite"}
            for v in VOICES.values() if v.name in installed
        ],
        "languages": list(LANGUAGES),
        "formats": {fmt: mime_type(fmt, 16000).replace("16000", "<sample_rate>") for fmt in FORMATS},
        "speed": {"min": MIN_SPEED, "max": MAX_SPEED},
        "max_text_bytes": MAX_TEXT_BYTES,
    }
