"""Voice profiles: the JSON document enrolment makes from a reference recording, and how synthesis uses it.

Version 2 (method ``world-vc``, made by :mod:`voicekit.enrolment`): the system voice that speaks for the user's
voice (``engineVoice``) and a ``conversion`` block — source/target log-F0 statistics, warp, F0 range, EQ curves,
breathiness — applied on vocoder features (:mod:`voicekit.conversion`, :mod:`voicekit.voiceclone`).

Version 1 (method ``f0-stats``, earlier enrolments; still served): only the reference's log-F0 statistics.
``adapt`` moves synthesised speech toward them: every voiced frame's F0 goes through
ln f' = μt + (σt/σs)(ln f − μs) (the usual Gaussian F0 mapping), done by TD-PSOLA. A profile without a valid
``conversion`` block is treated as version 1. Readers ignore fields they do not know.
"""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from . import conversion, pitch, psola
from .errors import VoicekitError

PROFILE_VERSION = 2
MAX_PROFILE_BYTES = 131_072  # a Kokoro clone with its labelled exemplar frames: ≤ 85 KB measured

# Long-term log-F0 statistics of the system voices, measured with voicekit.pitch (defaults) on a 12-14 s
# paragraph ("The North Wind and the Sun") spoken by Debian's flite 2.2. tests/unit/test_voice_enrolment.py
# re-measures them, so a different flite build shows up as a failing test rather than as wrong voices.
BASE_VOICE_F0: dict[str, tuple[float, float]] = {
    "slt": (5.118, 0.054),    # ≈ 165 Hz, female
    "awb": (4.822, 0.083),    # ≈ 125 Hz, male
    "rms": (4.642, 0.101),    # ≈ 104 Hz, male
    "kal16": (4.439, 0.091),  # ≈ 84 Hz, male (diphone)
}
_MIN_LOG_F0 = math.log(40.0)
_MAX_LOG_F0 = math.log(1000.0)


def closest_base_voice(log_mean: float, voices: dict[str, tuple[float, float]] | None = None) -> str:
    """The system voice whose mean log-F0 is closest to ``log_mean``."""
    table = voices or BASE_VOICE_F0
    return min(table, key=lambda name: abs(table[name][0] - log_mean))


def parse(text: str | bytes | None) -> dict[str, Any] | None:
    """A profile from its JSON text; None for an empty one (a system voice). Raises ``invalid_profile``."""
    if text is None:
        return None
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "replace")
    text = text.strip()
    if not text:
        return None
    if len(text.encode("utf-8")) > MAX_PROFILE_BYTES:
        raise VoicekitError("invalid_profile", f"profile is larger than {MAX_PROFILE_BYTES} bytes")
    try:
        profile = json.loads(text)
    except ValueError as exc:
        raise VoicekitError("invalid_profile", f"profile is not valid JSON: {exc}") from exc
    if not isinstance(profile, dict):
        raise VoicekitError("invalid_profile", "profile must be a JSON object")
    version = profile.get("version")
    if not isinstance(version, int) or version < 1:
        raise VoicekitError("invalid_profile", "profile.version must be a positive integer")
    f0 = profile.get("f0")
    if not isinstance(f0, dict):
        raise VoicekitError("invalid_profile", "profile.f0 is missing")
    for key, low, high in (("logMean", _MIN_LOG_F0, _MAX_LOG_F0), ("logStd", 0.0, 1.0)):
        value = f0.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not low <= value <= high:
            raise VoicekitError("invalid_profile", f"profile.f0.{key} must be a number in [{low:.3g}, {high:.3g}]")
    if profile.get("conversion") is not None:
        _check_conversion(profile["conversion"])
    return profile


def _number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        raise VoicekitError("invalid_profile", f"profile.conversion.{name} must be a number in [{low:.3g}, {high:.3g}]")
    return float(value)


def _check_conversion(block: Any) -> None:
    if not isinstance(block, dict):
        raise VoicekitError("invalid_profile", "profile.conversion must be an object")
    if block.get("baseVoice") not in BASE_VOICE_F0:
        raise VoicekitError("invalid_profile", f"profile.conversion.baseVoice must be one of {sorted(BASE_VOICE_F0)}")
    for key in ("sourceF0", "targetF0"):
        stats = block.get(key)
        if not isinstance(stats, dict):
            raise VoicekitError("invalid_profile", f"profile.conversion.{key} is missing")
        _number(stats.get("logMean"), f"{key}.logMean", _MIN_LOG_F0, _MAX_LOG_F0)
        _number(stats.get("logStd"), f"{key}.logStd", 0.0, 1.0)
    _number(block.get("warp", 1.0), "warp", conversion.MIN_WARP, conversion.MAX_WARP)
    _number(block.get("f0Range", 1.0), "f0Range", 0.25, 4.0)
    _number(block.get("breathiness", 1.0), "breathiness", 0.25, 4.0)
    for key in ("eqVoicedDb", "eqUnvoicedDb"):
        curve = block.get(key, [])
        if not isinstance(curve, list) or len(curve) > 256:
            raise VoicekitError("invalid_profile", f"profile.conversion.{key} must be a list of at most 256 numbers")
        for value in curve:
            _number(value, key, -conversion.MAX_EQ_DB, conversion.MAX_EQ_DB)
        if len(curve) == 1:
            raise VoicekitError("invalid_profile", f"profile.conversion.{key} needs at least 2 points")


def conversion_settings(profile: dict[str, Any] | None) -> conversion.Settings | None:
    """The conversion a (parsed) version-2 profile describes; None for a version-1 profile or none."""
    if not profile or not isinstance(profile.get("conversion"), dict):
        return None
    f0 = profile["f0"]
    return conversion.Settings.from_dict(profile["conversion"], (float(f0["logMean"]), float(f0["logStd"])))


def speaking_voice(profile: dict[str, Any] | None, requested: str) -> str:
    """The system voice that speaks for ``profile``: a version-2 profile's own base voice (its conversion was
    tuned for that voice), else ``requested``."""
    block = (profile or {}).get("conversion")
    if isinstance(block, dict) and block.get("baseVoice") in BASE_VOICE_F0:
        return block["baseVoice"]
    return requested


def source_stats(samples: np.ndarray, sample_rate: int, voice: str) -> tuple[float, float]:
    """(mean, std) of ln F0 for the speaking system voice: its long-term statistics when known, else measured."""
    if voice in BASE_VOICE_F0:
        return BASE_VOICE_F0[voice]
    measured = pitch.stats(pitch.track(samples, sample_rate))
    if measured is None:
        return float("nan"), float("nan")
    return measured.log_mean, max(measured.log_std, 0.03)


def adapt(samples: np.ndarray, sample_rate: int, profile: dict[str, Any] | None, voice: str) -> np.ndarray:
    """Move synthesised speech by ``voice`` toward ``profile``'s pitch; unchanged for no profile or no pitch."""
    if not profile:
        return samples
    source_mean, source_std = source_stats(samples, sample_rate, voice)
    if not math.isfinite(source_mean):
        return samples
    target_mean = float(profile["f0"]["logMean"])
    target_std = float(profile["f0"]["logStd"])
    if abs(target_mean - source_mean) < 0.005 and abs(target_std - source_std) < 0.005:
        return samples
    return psola.shift(samples, sample_rate, psola.map_log_f0(source_mean, source_std, target_mean, target_std))
