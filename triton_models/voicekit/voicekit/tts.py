"""Text → speech with a system voice: validate, normalise, chunk at sentences, synthesise chunks, join them."""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .errors import VoicekitError
from .flite import Flite
from .pcm import join_segments
from .text import chunk_text, normalize_text

MIN_SPEED = 0.25
MAX_SPEED = 4.0
MAX_TEXT_BYTES = 20_000  # the public API caps text at 5000 UTF-8 bytes; this is the model's own guard
CHUNK_CHARS = 400
SENTENCE_GAP_S = 0.3


class Synthesizer:
    """System-voice TTS. Chunks of one request are synthesised in parallel by ``workers`` flite processes."""

    def __init__(self, flite: Flite | None = None, workers: int = 2) -> None:
        self.flite = flite or Flite()
        self.voices = self.flite.check()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="flite")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def validate(self, text: str, voice: str, speed: float) -> None:
        if voice not in self.voices:
            available = ", ".join(sorted(self.voices))
            raise VoicekitError("unknown_voice",
                                f"voice {voice[:64]!r} is not available; available voices: {available}")
        if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
            raise VoicekitError("invalid_speed", f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            raise VoicekitError("text_too_long", f"text is {size} bytes; the maximum is {MAX_TEXT_BYTES}")

    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> tuple[np.ndarray, int]:
        """Returns (float32 mono samples in [-1, 1], sample rate). Voice names are case-insensitive."""
        voice = voice.strip().lower()
        self.validate(text, voice, speed)
        chunks = chunk_text(normalize_text(text), CHUNK_CHARS)
        if not chunks:
            raise VoicekitError("invalid_text", "text contains nothing to say (the system voices speak English text)")
        stretch = 1.0 / speed  # flite's duration_stretch: >1 is slower; pitch is unchanged
        results = list(self._pool.map(lambda chunk: self.flite.synthesize(chunk, voice, stretch), chunks))
        rate = results[0][1]
        audio = join_segments([samples for samples, _ in results], rate, gap_s=SENTENCE_GAP_S / speed)
        return audio, rate
