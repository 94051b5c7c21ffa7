"""Synthesis comes out at one loudness (voicekit/pcm.py ``level``, ITU-R BS.1770 through pyloudnorm)."""
from __future__ import annotations

import numpy as np
import pytest

from voicekit import pcm

RATE = 24000


def tone(amplitude: float, seconds: float = 2.0, hz: float = 1000.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_a_1_khz_tone_is_levelled_to_the_amplitude_bs1770_gives_it():
    # BS.1770: a full-scale 1 kHz sine reads -3.01 LUFS (K-weighting is 0 dB there, a sine's power is half), so at
    # -23 LUFS its amplitude is 10 ** (-19.99 / 20) ≈ 0.1 — whatever level it came in at
    for amplitude in (0.005, 0.05, 0.5):
        out = pcm.level(tone(amplitude), RATE, -23.0)
        assert out.dtype == np.float32
        assert np.abs(out).max() == pytest.approx(10 ** ((-23.0 + 3.01) / 20), rel=0.01)


def test_the_gain_stops_where_a_peak_would_pass_the_ceiling():
    quiet = tone(0.001)
    quiet[RATE // 2] = 0.5   # one click far above the speech: full gain would push it past full scale
    out = pcm.level(quiet, RATE, -23.0)
    assert np.abs(out).max() == pytest.approx(pcm.PEAK_CEILING, rel=1e-5)
    np.testing.assert_allclose(out / out[RATE // 2], quiet / quiet[RATE // 2], atol=1e-6)  # one gain for all


def test_audio_too_short_silent_or_with_levelling_off_is_returned_as_it_is():
    short = tone(0.3, seconds=0.3)
    np.testing.assert_array_equal(pcm.level(short, RATE, -23.0), short)
    silence = np.zeros(RATE, np.float32)
    np.testing.assert_array_equal(pcm.level(silence, RATE, -23.0), silence)
    np.testing.assert_array_equal(pcm.level(tone(0.3), RATE, None), tone(0.3))
    assert np.isfinite(pcm.level(tone(1e-6), RATE, -23.0)).all()   # under the absolute gate: unchanged, no NaN


@pytest.mark.parametrize("raw, expected", [("", -23.0), ("-16", -16.0), (" off ", None), ("0", None),
                                           ("-5", -23.0), ("-60", -23.0), ("loud", -23.0), ("nan", -23.0)])
def test_the_output_level_is_configured_by_environment_within_range(monkeypatch, raw, expected):
    monkeypatch.setenv(pcm.OUTPUT_LUFS_ENV, raw)
    assert pcm.output_lufs() == expected


class LevelEngine:
    """What ``tts.Synthesizer.speak`` uses of a KokoroEngine: each voice says a tone at its own level."""

    voices = {"af_quiet": 0.02, "am_loud": 0.6}

    def voice_pack(self, name):
        return np.full((510, 256), self.voices[name], np.float32)

    def speak(self, text, language, pack, speed=1.0, duration_s=None, check_duration=None, pitch=1.0):
        return tone(float(pack[0, 0]), hz=440.0)


def test_every_voice_comes_out_of_speak_at_one_loudness(monkeypatch):
    import pyloudnorm

    from voicekit.tts import Synthesizer

    monkeypatch.delenv(pcm.OUTPUT_LUFS_ENV, raising=False)
    synthesizer = Synthesizer(kokoro=LevelEngine())
    meter = pyloudnorm.Meter(RATE)
    levels = [meter.integrated_loudness(synthesizer.speak("Hello.", voice)[0].astype(np.float64))
              for voice in LevelEngine.voices]
    assert levels == pytest.approx([pcm.OUTPUT_LUFS] * 2, abs=0.05)   # 30 dB apart as made
    monkeypatch.setenv(pcm.OUTPUT_LUFS_ENV, "off")
    made = Synthesizer(kokoro=LevelEngine()).speak("Hello.", "af_quiet")[0]
    np.testing.assert_allclose(made, tone(0.02, hz=440.0), rtol=1e-6)   # as made (float32 pack rounding aside)
