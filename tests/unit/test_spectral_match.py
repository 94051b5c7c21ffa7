"""spectral_match: the Kokoro clone's EQ — estimation (identity, clamping, smoothing, level removal), application
(unity leaves audio unchanged, a known tilt is recovered, zero-phase), the fit's selection and the profile field."""
from __future__ import annotations

import numpy as np
import pytest

from voicekit import spectral_match as sm
from voicekit.errors import VoicekitError

RATE = 16000


def noise(seconds: float = 2.0, rate: int = RATE, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).normal(size=int(seconds * rate))).astype(np.float32)


def tilted(samples: np.ndarray, rate: int, db_per_octave: float) -> np.ndarray:
    """``samples`` with a spectral tilt of ``db_per_octave`` around 1 kHz (frequency-domain gain)."""
    spectrum = np.fft.rfft(samples)
    freqs = np.maximum(np.fft.rfftfreq(len(samples), 1.0 / rate), 20.0)
    return np.fft.irfft(spectrum * 10 ** (db_per_octave * np.log2(freqs / 1000.0) / 20), len(samples))


def test_identical_spectra_give_a_flat_curve_and_flat_is_identity():
    x = noise()
    level = sm.ltas_db(x, RATE)
    curve = sm.estimate(level, level)
    assert curve.is_flat and curve.gains_db.shape == (sm.BANDS,)
    assert sm.apply(x, RATE, curve) is x          # exactly unchanged: the same array
    assert sm.apply(x, RATE, None) is x


def test_level_difference_is_not_corrected():
    x = noise()
    curve = sm.estimate(sm.ltas_db(4 * x, RATE), sm.ltas_db(x, RATE))   # +12 dB everywhere: loudness, not timbre
    assert np.max(np.abs(curve.gains_db)) < 1e-6


def test_curve_is_clamped_and_smoothed():
    reference = np.zeros(sm.BANDS)
    reference[::2] = 30.0                             # a ±15 dB comb: smoothing must flatten it, clamping bound it
    curve = sm.estimate(reference, np.zeros(sm.BANDS))
    assert np.max(np.abs(curve.gains_db)) <= sm.MAX_DB + 1e-9
    assert np.max(np.abs(np.diff(curve.gains_db[2:-2]))) < 8.0   # vs 30 dB jumps before smoothing
    steep = sm.estimate(np.linspace(-40, 40, sm.BANDS), np.zeros(sm.BANDS))
    assert steep.gains_db.min() == pytest.approx(-sm.MAX_DB) and steep.gains_db.max() == pytest.approx(sm.MAX_DB)
    half = sm.estimate(np.linspace(-4, 4, sm.BANDS), np.zeros(sm.BANDS), strength=0.5)
    full = sm.estimate(np.linspace(-4, 4, sm.BANDS), np.zeros(sm.BANDS), strength=1.0)
    np.testing.assert_allclose(half.gains_db, 0.5 * full.gains_db)


def test_a_known_tilt_is_measured_and_undone():
    x = noise(3.0)
    dark = tilted(x, RATE, -3.0)                      # the "clone": 3 dB/octave darker than the "reference"
    curve = sm.estimate(sm.ltas_db(x, RATE), sm.ltas_db(dark, RATE))
    assert curve.gains_db[-1] > curve.gains_db[0] + 6.0   # the correction brightens
    corrected = sm.apply(dark, RATE, curve)
    before = sm.ltas_db(dark, RATE) - sm.ltas_db(x, RATE)
    after = sm.ltas_db(corrected, RATE) - sm.ltas_db(x, RATE)
    spread = lambda d: float(np.std(d[2:-2] - d[2:-2].mean()))  # noqa: E731 - inner bands (edges are held flat)
    assert spread(after) < 0.35 * spread(before)


def test_application_is_zero_phase_and_same_length():
    x = np.zeros(4000, dtype=np.float32)
    x[2000] = 0.5
    curve = sm.Curve(sm.band_centres(), np.linspace(-3, 3, sm.BANDS))
    y = sm.apply(x, 24000, curve)
    assert len(y) == len(x) and y.dtype == np.float32
    assert int(np.argmax(np.abs(y))) == 2000                        # the impulse stays where it was
    np.testing.assert_allclose(y[2000 - 300:2000], y[2001:2301][::-1], atol=1e-6)   # symmetric: no phase shift


def test_a_boost_never_clips():
    x = np.sin(2 * np.pi * 3000 * np.arange(RATE) / RATE).astype(np.float32) * 0.98
    curve = sm.Curve(sm.band_centres(), np.full(sm.BANDS, 6.0))
    assert float(np.abs(sm.apply(x, RATE, curve)).max()) <= 0.99 + 1e-6


def test_fit_keeps_a_curve_only_if_it_scores_better():
    reference = noise(3.0, seed=1)
    proxy = tilted(noise(3.0, seed=2), RATE, -3.0)
    target = sm.ltas_db(reference, RATE)

    def closeness(clips, rate):                       # a toy "encoder": how close each LTAS is to the reference's
        out = []
        for audio in clips:
            d = sm.ltas_db(audio, rate) - target
            out.append(-float(np.abs(d - d.mean()).mean()))
        return out

    fitted = sm.fit(reference, RATE, proxy, RATE, closeness)
    assert fitted.curve is not None and fitted.frames == "loud" and fitted.strength == 1.0
    assert fitted.similarity_after > fitted.similarity_before == closeness([proxy], RATE)[0]
    scored = []

    def only_the_raw_proxy_is_good(clips, rate):      # every curve makes it worse: nothing is kept
        scored.append(len(clips))
        return [1.0 if audio is proxy else 0.0 for audio in clips]

    refused = sm.fit(reference, RATE, proxy, RATE, only_the_raw_proxy_is_good)
    assert refused.curve is None and refused.similarity_after == refused.similarity_before == 1.0
    assert refused.report()["frames"] == "none"
    assert scored == [1 + len(sm.STRENGTHS)]          # one batch: the raw proxy and the loud-frame curves
    known = sm.fit(reference, RATE, proxy, RATE, only_the_raw_proxy_is_good, before=0.5,
                   reference_voiced=(np.ones(400, bool), 160), proxy_voiced=(np.ones(400, bool), 160))
    assert scored[-1] == 2 * len(sm.STRENGTHS) and known.curve is None   # "before" given: not scored again


def test_a_scaled_fit_keeps_its_selection_and_scales_the_gains():
    curve = sm.Curve(sm.band_centres(4), np.array([2.0, -4.0, 0.0, 6.0]))
    fitted = sm.Fitted(curve, "voiced", 1.0, 0.70, 0.74)
    half = fitted.scaled(0.5)
    assert np.array_equal(half.curve.hz, curve.hz) and np.allclose(half.curve.gains_db, [1.0, -2.0, 0.0, 3.0])
    assert half.report() == {**fitted.report(), "scale": 0.5} and "scale" not in fitted.report()
    assert half.strength == fitted.strength and half.similarity_after == fitted.similarity_after
    none = sm.Fitted(None, "none", 0.0, 0.7, 0.7)
    assert none.scaled(0.5) is none


def test_voiced_frames_select_the_ltas():
    x = noise(2.0)
    silent_half = np.concatenate([np.zeros(len(x) // 2, bool), np.ones(len(x) - len(x) // 2, bool)])
    hop = 80
    voiced = silent_half[::hop]
    low = x.copy()
    low[len(x) // 2:] = tilted(x, RATE, -6.0)[len(x) // 2:]
    only_voiced = sm.ltas_db(low, RATE, voiced=voiced, voiced_hop=hop)
    everything = sm.ltas_db(low, RATE)
    assert only_voiced[-1] - only_voiced[0] < everything[-1] - everything[0] - 3.0


def test_profile_round_trip_and_refusals():
    curve = sm.Curve(sm.band_centres(), np.linspace(-2, 2, sm.BANDS))
    block = curve.to_dict()
    assert len(str(block)) < 600                      # a few hundred bytes in the profile
    parsed = sm.curve_of({"spectralMatch": block})
    np.testing.assert_allclose(parsed.gains_db, curve.gains_db, atol=0.01)
    assert sm.curve_of({"version": 3}) is None and sm.curve_of(None) is None
    for bad in ({"hz": [100, 50], "db": [0, 1]}, {"hz": [100, 200], "db": [0]}, {"hz": [100, 200], "db": [0, 40]},
                {"hz": [100, 200], "db": [0, float("nan")]}, {"hz": "x"}, [1, 2], {"hz": [100], "db": [1]}):
        with pytest.raises(VoicekitError) as error:
            sm.curve_of({"spectralMatch": bad})
        assert error.value.code == "invalid_profile"


# --- wiring: the enrolment profile carries the curve; synthesis applies it, and only it ---------------------------

class NoiseEngine:
    """What ``tts.Synthesizer.speak`` uses of a KokoroEngine; every text is the same 1 s of noise at 24 kHz."""

    def __init__(self):
        self.voices = {"af_a": object(), "af_b": object()}
        self.audio = noise(1.0, 24000, seed=3)

    def voice_pack(self, name):
        return np.full((510, 256), 0.1 if name == "af_a" else 0.2, np.float32)

    def speak(self, text, language, pack, speed=1.0, duration_s=None, check_duration=None, pitch=1.0):
        return self.audio.copy()


def test_a_version_3_profile_synthesises_with_its_curve_and_without_one_exactly_as_before():
    from voicekit import kokoro_enrol as ke
    from voicekit.pcm import level
    from voicekit.tts import Synthesizer

    recipe = ke.Recipe(("af_a", "af_b"), np.array([0.7, 0.3]), np.array([0.5, 0.5]))
    found = ke.Found(recipe=recipe, similarity=0.8, score=0.8, start="test", evaluations=1, search_s=1.0,
                     budget_exhausted=False, confidence="medium")
    curve = sm.Curve(sm.band_centres(), np.linspace(-4, 4, sm.BANDS))
    kept = sm.Fitted(curve, "voiced", 1.0, 0.80, 0.83)
    with_curve = ke.profile({"f0": {"logMean": 5.3, "logStd": 0.1}}, found, 10.0, kept)
    without = ke.profile({"f0": {"logMean": 5.3, "logStd": 0.1}}, found, 10.0, sm.Fitted(None, "none", 0.0, .8, .8))
    assert with_curve["version"] == 3 and "spectralMatch" in with_curve and "spectralMatch" not in without
    assert with_curve["clone"]["spectralMatch"]["similarityAfter"] == 0.83

    engine = NoiseEngine()
    synthesizer = Synthesizer(kokoro=engine)
    levelled = lambda audio: level(audio, 24000, synthesizer.output_lufs)  # noqa: E731 — what speak returns
    plain, rate = synthesizer.speak("Hello.", "af_a", profile=without)
    assert rate == 24000 and np.array_equal(plain, levelled(engine.audio))  # no curve: Kokoro's output, levelled
    corrected, _ = synthesizer.speak("Hello.", "af_a", profile=with_curve)
    np.testing.assert_allclose(corrected, levelled(sm.apply(engine.audio, 24000, sm.curve_of(with_curve))),
                               atol=1e-6)
    assert not np.allclose(corrected, plain, atol=1e-3)
    with pytest.raises(VoicekitError) as bad:
        synthesizer.speak("Hello.", "af_a", profile={**with_curve, "spectralMatch": {"hz": [1], "db": [0]}})
    assert bad.value.code == "invalid_profile"


def test_batched_ge2e_scoring_equals_one_clip_at_a_time():
    """``SpeakerEncoder.embed_many`` (the EQ variants scored in one LSTM pass) gives each clip's ``embed``."""
    from voicekit import speaker_encoder

    t = np.arange(int(2.5 * RATE)) / RATE
    voiced = (np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) * 0.3).astype(np.float32)
    clips = [voiced, tilted(voiced, RATE, -3.0).astype(np.float32), voiced[: RATE]]
    encoder = speaker_encoder.default_encoder()
    many = encoder.embed_many(clips, RATE, fixed_level=True)
    one = np.stack([encoder.embed(c, RATE, fixed_level=True) for c in clips])
    assert many.shape == (3, 256)
    np.testing.assert_allclose(many, one, atol=1e-5)
