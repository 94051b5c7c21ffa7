"""Text → speech with a system voice: validate, normalise, chunk at sentences, synthesise chunks, join them.

``Synthesizer.speak`` adds what a request may ask on top: a cloned voice's profile (version 2: vocoder-based
conversion, :mod:`voicekit.voiceclone`; version 1: PSOLA pitch shift, :func:`voicekit.profile.adapt`) and a target
duration (the vocoder's frames are time-scaled, so the pitch stays). Without either, ``speak`` is exactly
``synthesize``.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import profile as voice_profile
from . import voiceclone
from .errors import VoicekitError
from .flite import Flite
from .pcm import join_segments
from .text import chunk_text, normalize_text

MIN_SPEED = 0.25
MAX_SPEED = 4.0
MAX_TEXT_BYTES = 20_000  # the public API caps text at 5000 UTF-8 bytes; this is the model's own guard
CHUNK_CHARS = 400
SENTENCE_GAP_S = 0.3
MIN_DURATION_S = 0.2
MAX_DURATION_S = 1200.0
MAX_DURATION_FACTOR = 4.0  # a target duration may stretch or squeeze the natural length at most this much


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

    def speak(self, text: str, voice: str, speed: float = 1.0, profile: dict | None = None,
              duration_s: float | None = None) -> tuple[np.ndarray, int]:
        """``synthesize`` plus a cloned voice (a parsed ``profile``) and a target total ``duration_s`` (seconds,
        including the leading/trailing silence; None or 0 = natural length at ``speed``).

        - version-2 profile: the profile's own base voice speaks at normal tempo, then the conversion and the
          tempo change (``speed`` and/or ``duration_s``) are done on vocoder frames (pitch unchanged);
        - version-1 profile: ``synthesize`` then a PSOLA pitch shift (``profile.adapt``), then ``duration_s``;
        - no profile: ``synthesize``, then ``duration_s`` by the vocoder if asked.
        """
        voice = voice.strip().lower()
        if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
            raise VoicekitError("invalid_duration", f"duration must be a positive number of seconds, got {duration_s}")
        if duration_s is not None and duration_s > 0 and not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
            raise VoicekitError("invalid_duration", f"duration must be between {MIN_DURATION_S} and "
                                                    f"{MAX_DURATION_S:.0f} seconds, got {duration_s}")
        duration_s = duration_s or None
        settings = voice_profile.conversion_settings(profile)
        if settings is not None:
            self.validate(text, voice, speed)  # the requested voice must still be a real one
            voice = voice_profile.speaking_voice(profile, voice)
            audio, rate = self.synthesize(text, voice, 1.0)
        else:
            audio, rate = self.synthesize(text, voice, speed)
            if profile:
                audio = voice_profile.adapt(audio, rate, profile, voice)
            if duration_s is None:
                return audio, rate
            speed = 1.0
        natural = len(audio) / rate / speed
        if duration_s is not None and not 1.0 / MAX_DURATION_FACTOR <= duration_s / natural <= MAX_DURATION_FACTOR:
            raise VoicekitError("invalid_duration", f"a duration of {duration_s:.2f} s is too far from this text's "
                                                    f"natural length ({natural:.2f} s): at most "
                                                    f"{MAX_DURATION_FACTOR:.0f}x longer or shorter")
        return voiceclone.synthesize_converted(audio, rate, settings, speed, duration_s), rate
