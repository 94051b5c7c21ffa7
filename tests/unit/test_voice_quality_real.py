"""Pure parts of the real-speaker benchmark: the channel band limit and the beats-every-other-speaker test."""
import numpy as np
import pytest

pytest.importorskip("soxr")

from bench.voice_quality_real import band_limit, beats_every_other  # noqa: E402

RATE = 16000


def tone(freq: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    x = x[RATE // 10: -RATE // 10]  # away from the filters' edges
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def test_telephone_band_removes_energy_above_4khz_and_keeps_speech_band():
    high, low = tone(6000), tone(1000)
    assert rms(band_limit(high, 8000)) < 0.01 * rms(high)
    assert rms(band_limit(low, 8000)) == pytest.approx(rms(low), rel=0.02)


def test_band_limit_keeps_length_and_leaves_wideband_sources_alone():
    x = np.random.default_rng(0).standard_normal(12345).astype(np.float32) * 0.1
    assert len(band_limit(x, 8000)) == len(x)
    assert np.array_equal(band_limit(x, 22050), x)
    assert np.array_equal(band_limit(x, 16000), x)


def test_beats_every_other_needs_to_beat_the_closest_other_speaker():
    # own[i][j]: speaker j's own speech against speaker i's reference (diagonal: the ceiling, not compared)
    own = [[0.90, 0.60, 0.70],
           [0.55, 0.92, 0.65],
           [0.50, 0.80, 0.88]]
    clone = [0.71, 0.60, 0.85]
    assert beats_every_other(clone, own) == [True, False, True]
    # a tie is not a win; the own-speech diagonal never counts against the clone
    assert beats_every_other([0.70, 0.99, 0.81], own) == [False, True, True]


def test_beats_every_other_is_false_without_other_speakers():
    assert beats_every_other([0.8], [[0.9]]) == [False]
