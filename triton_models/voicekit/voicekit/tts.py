"""Text → speech with a system voice: validate, normalise, chunk at sentences, synthesise chunks, join them.

Two engines: Kokoro-82M (:mod:`voicekit.kokoro`, the default system voices, 9 languages, 24 kHz) for Kokoro voice
names (``af_heart`` ...) or a given style pack, and CMU Flite (``slt``, ``awb``, ``rms``, ``kal16``, ``kal``; English,
16 kHz) as the fast fallback and the base of the older cloned-voice profiles.

``Synthesizer.speak`` adds what a request may ask on top: a cloned voice's profile (version 2: vocoder-based
conversion, :mod:`voicekit.voiceclone`; version 1: PSOLA pitch shift, :func:`voicekit.profile.adapt`) and a target
duration (the vocoder's frames are time-scaled, so the pitch stays), and it levels what it returns to one loudness
(``pcm.level``). Without a profile or a duration, ``speak`` is ``synthesize`` levelled.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import exemplar_match, intelligibility, kokoro_enrol, spectral_match, voiceclone
from . import profile as voice_profile
from .errors import VoicekitError
from .flite import Flite
from .g2p import LANGUAGES, script_language
from .kokoro import SAMPLE_RATE as KOKORO_RATE
from .kokoro import KokoroEngine, LruCache, stock_voice, style_pack
from .pcm import join_segments, level, output_lufs
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

    def __init__(self, flite: Flite | None = None, workers: int = 2, kokoro: KokoroEngine | None = None) -> None:
        self.flite = flite or Flite()
        self.voices = self.flite.check()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="flite")
        self._kokoro = kokoro
        self._recipe_packs = LruCache(32)  # a cloned voice's pack by its recipe (0.5 MB each): rebuilt once
        self.output_lufs = output_lufs()   # what :meth:`speak` levels its output to (None: left as made)

    @property
    def kokoro(self) -> KokoroEngine:
        """The Kokoro engine, loaded on first use (the Triton model touches it in ``initialize``)."""
        if self._kokoro is None:
            self._kokoro = KokoroEngine()
        return self._kokoro

    def recipe_style(self, profile: dict) -> np.ndarray:
        """The style pack of a version-3 profile: its recipe over the stock voices (``kokoro_enrol``), plus its
        ``styleOffset`` (the style fit's) in the timbre half of every row when it has one."""
        try:
            recipe = kokoro_enrol.recipe_of(profile)
            if recipe is None or any(stock_voice(name) is None for name in recipe.basis):
                raise ValueError("unknown basis voice")
        except (KeyError, TypeError, ValueError) as exc:
            raise VoicekitError("invalid_profile", f"profile.style is not a valid style recipe: {exc}") from exc
        try:
            offset = kokoro_enrol.style_offset_of(profile)
        except (TypeError, ValueError) as exc:
            raise VoicekitError("invalid_profile", f"profile.styleOffset is not valid: {exc}") from exc
        key = (recipe.basis, recipe.timbre.tobytes(), recipe.prosody.tobytes(),
               None if offset is None else offset.tobytes())
        return self._recipe_packs.get(key, lambda: _read_only(kokoro_enrol.with_offset(kokoro_enrol.style_pack(
            recipe, {name: self.kokoro.voice_pack(name) for name in recipe.basis}), offset)))

    def is_kokoro_voice(self, voice: str) -> bool:
        return stock_voice(voice.strip().lower()) is not None

    def resolve_language(self, language: str | None, voice: str, text: str = "") -> str:
        """The language to read the text in: the request's, else the voice's own (``en`` → the voice's English
        variant or en-us, ``pt`` → pt-br) unless the text is plainly in another script (Chinese text sent to an
        English voice is read as Chinese, not dropped as "nothing to say"). Raises ``unsupported_language``."""
        own = stock_voice(voice)
        wanted = (language or "").strip().lower().replace("_", "-")
        if not wanted:
            return script_language(text) or (own.language if own else "en-us")
        if wanted == "en":
            return own.language if own and own.language.startswith("en-") else "en-us"
        wanted = {"pt": "pt-br", "pt-pt": "pt-br", "zh-cn": "zh", "cmn": "zh", "fr-fr": "fr"}.get(wanted, wanted)
        if wanted not in LANGUAGES:
            raise VoicekitError("unsupported_language", f"language {wanted[:32]!r} is not supported; supported: "
                                                        f"{', '.join(LANGUAGES)}")
        return wanted

    def speak_kokoro(self, text: str, voice: str, speed: float = 1.0, duration_s: float | None = None,
                     language: str | None = None, style=None, pitch: float = 1.0) -> tuple[np.ndarray, int]:
        """Kokoro: ``voice`` a stock voice name (its style pack and default language) unless ``style`` (a style
        pack, [510, 256] or one [256] style) is given, in which case ``voice`` only gives the default language;
        ``pitch`` a clone's factor on the predicted F0 (``kokoro_enrol.pitch_of``)."""
        voice = voice.strip().lower()
        if style is None and voice not in self.kokoro.voices:
            available = ", ".join(sorted(self.kokoro.voices))
            raise VoicekitError("unknown_voice", f"voice {voice[:64]!r} is not available; Kokoro voices: {available}")
        self._check_speed_and_size(text, speed)
        duration_s = _checked_duration(duration_s)
        lang = self.resolve_language(language, voice, text)
        pack = style_pack(style) if style is not None else self.kokoro.voice_pack(voice)
        audio = self.kokoro.speak(text, lang, pack, speed, duration_s,
                                  check_duration=lambda natural: _check_duration_factor(duration_s, natural),
                                  pitch=pitch)
        return audio, KOKORO_RATE

    def _english_words(self, text: str, voice: str, language: str | None) -> str | None:
        """What an English clone says, in words (numbers, dates and symbols spelt out), for aligning its phones
        (``exemplar_match.apply``); None when the text is read in another language (the phones are then searched)."""
        if self.resolve_language(language, voice, text) not in ("en-us", "en-gb"):
            return None
        return normalize_text(text)

    def _check_speed_and_size(self, text: str, speed: float) -> None:
        if not math.isfinite(speed) or not MIN_SPEED <= speed <= MAX_SPEED:
            raise VoicekitError("invalid_speed", f"speed must be between {MIN_SPEED} and {MAX_SPEED}, got {speed}")
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            raise VoicekitError("text_too_long", f"text is {size} bytes; the maximum is {MAX_TEXT_BYTES}")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._kokoro is not None:
            self._kokoro.close()

    def validate(self, text: str, voice: str, speed: float) -> None:
        if voice not in self.voices:
            available = ", ".join(sorted(self.voices))
            raise VoicekitError("unknown_voice",
                                f"voice {voice[:64]!r} is not available; available voices: {available}")
        self._check_speed_and_size(text, speed)

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
              duration_s: float | None = None, language: str | None = None, style=None) -> tuple[np.ndarray, int]:
        """:meth:`_speak`'s audio levelled to :attr:`output_lufs` (what the service returns: every voice and clone at
        one loudness)."""
        audio, rate = self._speak(text, voice, speed, profile, duration_s, language, style)
        return level(audio, rate, self.output_lufs), rate

    def _speak(self, text: str, voice: str, speed: float = 1.0, profile: dict | None = None,
               duration_s: float | None = None, language: str | None = None, style=None) -> tuple[np.ndarray, int]:
        """``synthesize`` plus a cloned voice (a parsed ``profile``) and a target total ``duration_s`` (seconds,
        including the leading/trailing silence; None or 0 = natural length at ``speed``).

        A Kokoro voice name or a ``style`` pack (and no flite-based ``profile``): :meth:`speak_kokoro`, in
        ``language`` (default: the voice's own). Otherwise the flite path:

        - version-2 profile: the profile's own base voice speaks at normal tempo, then the conversion and the
          tempo change (``speed`` and/or ``duration_s``) are done on vocoder frames (pitch unchanged);
        - version-1 profile: ``synthesize`` then a PSOLA pitch shift (``profile.adapt``), then ``duration_s``;
        - no profile: ``synthesize``, then ``duration_s`` by the vocoder if asked.
        """
        voice = voice.strip().lower()
        correction, exemplars, pitch = None, None, 1.0
        if style is None and profile and profile.get("method") == kokoro_enrol.METHOD:
            style = self.recipe_style(profile)  # a Kokoro clone (profile version 3): its pack from the recipe
            try:
                pitch = kokoro_enrol.pitch_of(profile)  # its pitch match if enrolment made one
            except ValueError as exc:
                raise VoicekitError("invalid_profile", f"profile.pitch is not valid: {exc}") from exc
            correction = spectral_match.curve_of(profile)  # its EQ if enrolment kept one; None: output unchanged
            exemplars = exemplar_match.of_profile(profile)  # its codebook and mix if enrolment learnt one
        flite_profile = bool(profile) and (profile.get("version") in (1, 2) or "conversion" in profile)
        if not flite_profile and (style is not None or self.is_kokoro_voice(voice)):
            audio, rate = self.speak_kokoro(text, voice, speed, duration_s, language, style, pitch)
            audio = spectral_match.apply(audio, rate, correction)
            if exemplars:  # labelled per phone when the codebook was learnt so (exemplar_match.learn)
                audio = exemplar_match.apply(audio, rate, *exemplars,
                                             labeller=intelligibility.shared_labeller(),
                                             transcript=self._english_words(text, voice, language))
            return audio, rate
        if language and self.resolve_language(language, voice, text) not in ("en-us", "en-gb"):
            raise VoicekitError("unsupported_language", f"the flite voices speak English only, not {language!r}")
        duration_s = _checked_duration(duration_s)
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
        if duration_s is not None:
            _check_duration_factor(duration_s, natural)
        return voiceclone.synthesize_converted(audio, rate, settings, speed, duration_s), rate


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared through the cache: a caller must not change it in place
    return array


def _checked_duration(duration_s: float | None) -> float | None:
    """A request's target duration: None (natural length) or seconds within the limits."""
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s < 0):
        raise VoicekitError("invalid_duration", f"duration must be a positive number of seconds, got {duration_s}")
    if duration_s is not None and duration_s > 0 and not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
        raise VoicekitError("invalid_duration", f"duration must be between {MIN_DURATION_S} and "
                                                f"{MAX_DURATION_S:.0f} seconds, got {duration_s}")
    return duration_s or None


def _check_duration_factor(duration_s: float, natural_s: float) -> None:
    if not 1.0 / MAX_DURATION_FACTOR <= duration_s / max(natural_s, 1e-6) <= MAX_DURATION_FACTOR:
        raise VoicekitError("invalid_duration", f"a duration of {duration_s:.2f} s is too far from this text's "
                                                f"natural length ({natural_s:.2f} s): at most "
                                                f"{MAX_DURATION_FACTOR:.0f}x longer or shorter")
