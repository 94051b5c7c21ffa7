"""formant_warp: the Kokoro clone's vocal-tract-length correction — identity, formants move by α while harmonics
(pitch) and timing stay, bounds, the fit's selection, the profile field and its wiring in synthesis and enrolment."""
from __future__ import annotations

import numpy as np
import pytest

from voicekit import formant_warp as fw
from voicekit import spectral_match as sm
from voicekit.errors import VoicekitError

RATE = 24000


def resonate(x: np.ndarray, hz: float, bandwidth: float = 80.0) -> np.ndarray:
    """``x`` through a two-pole resonance at ``hz`` (a formant)."""
    r = np.exp(-np.pi * bandwidth / RATE)
    a1, a2 = -2 * r * np.cos(2 * np.pi * hz / RATE), r * r
    y = np.zeros_like(x)
    y1 = y2 = 0.0
    for i, v in enumerate(x):
        y1, y2 = v - a1 * y1 - a2 * y2, y1
        y[i] = y1
    return y


def vowel(period: int, formants: tuple[float, ...], seconds: float = 1.0) -> np.ndarray:
    """A steady vowel: a pulse train (F0 = RATE / period) through ``formants``."""
    x = np.zeros(int(seconds * RATE))
    x[::period] = 1.0
    for hz in formants:
        x = resonate(x, hz)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def harmonics_db(samples: np.ndarray, f0: float, top_hz: float = 5000.0) -> tuple[np.ndarray, np.ndarray]:
    """(frequencies, dB) of each harmonic of the steady middle of ``samples``."""
    middle = samples[RATE // 5: -RATE // 5]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    freqs = np.fft.rfftfreq(len(middle), 1.0 / RATE)
    harmonics = np.arange(1, int(top_hz / f0)) * f0
    return harmonics, 20 * np.log10(np.array([spectrum[np.argmin(np.abs(freqs - h))] for h in harmonics]) + 1e-9)


def effective_warp(original: np.ndarray, warped: np.ndarray, f0: float) -> float:
    """The factor β whose warp of the original's harmonic-amplitude curve best matches the warped one (< 4 kHz)."""
    fo, ho = harmonics_db(original, f0)
    fw_, hw = harmonics_db(warped, f0)
    best = (np.inf, 1.0)
    for beta in np.arange(0.8, 1.2, 0.005):
        keep = (fw_ < 4000) & (fw_ / beta > fo[0])
        d = hw[keep] - np.interp(fw_[keep] / beta, fo, ho)
        best = min(best, (float(np.mean((d - d.mean()) ** 2)), float(beta)))
    return best[1]


def test_no_warp_is_identity_and_the_same_array():
    x = vowel(200, (700, 1200, 2600))
    assert fw.warp(x, RATE, None) is x and fw.warp(x, RATE, 1.0) is x
    nearly = fw.warp(x, RATE, 1.0 + 1e-5)             # the analysis-resynthesis itself is transparent
    assert nearly.dtype == np.float32 and len(nearly) == len(x)
    assert float(np.abs(nearly - x).max()) < 1e-4


@pytest.mark.parametrize("period,formants", [(252, (600, 1000, 2400)), (200, (700, 1200, 2600)),
                                             (109, (850, 1600, 2900))])   # F0 95, 120, 220 Hz
def test_formants_move_by_alpha_and_harmonics_stay(period, formants):
    x = vowel(period, formants)
    f0 = RATE / period
    for alpha in (0.9, 1.1):
        y = fw.warp(x, RATE, alpha)
        assert len(y) == len(x)
        assert abs(effective_warp(x, y, f0) - alpha) <= 0.015
        # pitch kept: the energy stays on the original harmonics (between them it stays ≥ 40 dB lower)
        middle = y[RATE // 5: -RATE // 5]
        spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
        freqs = np.fft.rfftfreq(len(middle), 1.0 / RATE)
        on = [spectrum[np.argmin(np.abs(freqs - k * f0))] for k in range(1, 20)]
        off = [spectrum[np.argmin(np.abs(freqs - (k + 0.5) * f0))] for k in range(1, 20)]
        assert 20 * np.log10(np.sum(on) / np.sum(off)) > 40


def test_timing_is_kept_and_alpha_is_bounded_and_peak_kept():
    x = np.zeros(RATE, np.float32)
    x[RATE // 2: RATE // 2 + 2400] = vowel(200, (700, 1200, 2600), 0.1)
    y = fw.warp(x, RATE, 0.9)
    centre = lambda s: float(np.sum(np.arange(len(s)) * s.astype(np.float64) ** 2) / np.sum(s.astype(np.float64) ** 2))  # noqa: E731,E501
    assert abs(centre(y) - centre(x)) < 24                                      # < 1 ms: nothing moved in time
    outside = np.concatenate([y[: RATE // 2 - 480], y[RATE // 2 + 2400 + 480:]]).astype(np.float64)
    assert np.sum(outside ** 2) < 0.01 * np.sum(y.astype(np.float64) ** 2)     # no energy smeared > 20 ms away
    np.testing.assert_allclose(fw.warp(x, RATE, 0.5), fw.warp(x, RATE, fw.MIN_ALPHA))   # clipped to the range
    loud = (x / np.abs(x).max() * 0.99).astype(np.float32)
    assert float(np.abs(fw.warp(loud, RATE, 1.12)).max()) <= 0.99 + 1e-6


def test_fit_keeps_a_warp_only_if_it_beats_the_unwarped_clone():
    proxy = vowel(200, (700, 1200, 2600), 0.5)
    target = fw.warp(proxy, RATE, 0.92)

    def closeness(clips, rate):                       # a toy encoder: how close each clip's spectrum is to target's
        t = sm.ltas_db(target, rate)
        return [-float(np.abs(sm.ltas_db(c, rate) - t).mean()) for c in clips]

    before = closeness([proxy], RATE)[0]
    fitted = fw.fit(proxy, RATE, closeness, before=before)
    assert fitted.alpha == 0.92 and fitted.similarity_after > fitted.similarity_before == before
    assert fitted.report()["alpha"] == 0.92 and set(fitted.report()["scores"]) == {f"{a:.2f}" for a in fw.ALPHAS}
    capped = fw.fit(fw.warp(proxy, RATE, 1.08), RATE, closeness, before=-1e9, max_alpha=fw.FEMALE_MAX_ALPHA)
    assert set(capped.scores) == {a for a in fw.ALPHAS if a <= fw.FEMALE_MAX_ALPHA}   # 1.08 never tried
    refused = fw.fit(proxy, RATE, closeness, before=0.0)           # nothing beats a perfect unwarped score
    assert refused.alpha is None and refused.eq is None and refused.similarity_after == 0.0
    calls = []

    def counting(clips, rate):
        calls.append(len(clips))
        return closeness(clips, rate)

    curve = sm.Curve(sm.band_centres(), np.linspace(-2, 2, sm.BANDS))
    eq = sm.Fitted(curve, "loud", 1.0, before, before)
    better = sm.Fitted(sm.Curve(sm.band_centres(), np.zeros(sm.BANDS) + 0.5), "voiced", 0.5, 0.0, 1.0)
    refits = []
    chosen = fw.fit(proxy, RATE, counting, before=before, eq=eq,
                    refit=lambda warped, score: refits.append(score) or better)
    assert calls == [2 * len(fw.ALPHAS)]              # one batch: each α alone and with the kept EQ
    assert len(refits) == 1 and chosen.alpha == 0.92 and chosen.eq is better and chosen.similarity_after == 1.0
    assert chosen.report()["eq"] == {"frames": "voiced", "strength": 0.5}


def test_profile_field_round_trip_and_refusals():
    assert fw.alpha_of({"formantWarp": {"alpha": 0.94}}) == 0.94
    assert fw.alpha_of({"version": 3}) is None and fw.alpha_of(None) is None
    for bad in ({"alpha": 0.5}, {"alpha": 1.5}, {"alpha": float("nan")}, {"alpha": "x"}, {}, [0.9]):
        with pytest.raises(VoicekitError) as error:
            fw.alpha_of({"formantWarp": bad})
        assert error.value.code == "invalid_profile"


class NoiseEngine:
    """What ``tts.Synthesizer.speak`` uses of a KokoroEngine; every text is the same vowel at 24 kHz."""

    def __init__(self):
        self.voices = {"af_a": object(), "af_b": object()}
        self.audio = vowel(160, (600, 1100, 2500))

    def voice_pack(self, name):
        return np.full((510, 256), 0.1 if name == "af_a" else 0.2, np.float32)

    def speak(self, text, language, pack, speed=1.0, duration_s=None, check_duration=None):
        return self.audio.copy()


def test_a_profile_with_a_warp_is_warped_then_equalised_and_one_without_is_as_before():
    from voicekit import kokoro_enrol as ke
    from voicekit.tts import Synthesizer

    recipe = ke.Recipe(("af_a", "af_b"), np.array([0.7, 0.3]), np.array([0.5, 0.5]))
    found = ke.Found(recipe=recipe, similarity=0.8, score=0.8, start="test", evaluations=1, search_s=1.0,
                     budget_exhausted=False, confidence="medium")
    eq_only = sm.Fitted(sm.Curve(sm.band_centres(), np.linspace(-4, 4, sm.BANDS)), "voiced", 1.0, 0.80, 0.83)
    warp_eq = sm.Fitted(sm.Curve(sm.band_centres(), np.linspace(3, -3, sm.BANDS)), "loud", 0.5, 0.84, 0.86)
    measurements = {"f0": {"logMean": 5.3, "logStd": 0.1}}
    warped = ke.profile(measurements, found, 10.0, eq_only, fw.Fitted(0.94, warp_eq, 0.83, 0.86, {0.94: 0.86}))
    refused = ke.profile(measurements, found, 10.0, eq_only, fw.Fitted(None, None, 0.83, 0.83, {0.94: 0.82}))
    plain = ke.profile(measurements, found, 10.0, eq_only)
    assert warped["formantWarp"] == {"alpha": 0.94} and warped["clone"]["formantWarp"]["alpha"] == 0.94
    assert warped["spectralMatch"] == warp_eq.curve.to_dict()          # the EQ fitted on the warped proxy
    assert "formantWarp" not in refused and refused["spectralMatch"] == plain["spectralMatch"]
    assert refused["clone"]["formantWarp"]["alpha"] is None and "formantWarp" not in plain["clone"]

    engine = NoiseEngine()
    synthesizer = Synthesizer(kokoro=engine)
    out, rate = synthesizer.speak("Hello.", "af_a", profile=warped)
    expected = sm.apply(fw.warp(engine.audio, rate, 0.94), rate, sm.curve_of(warped))
    np.testing.assert_allclose(out, expected, atol=1e-6)
    before, _ = synthesizer.speak("Hello.", "af_a", profile=refused)      # no warp: exactly the EQ-only clone
    np.testing.assert_array_equal(before, sm.apply(engine.audio, rate, sm.curve_of(plain)))
    bare = {k: v for k, v in plain.items() if k != "spectralMatch"}
    untouched, _ = synthesizer.speak("Hello.", "af_a", profile=bare)      # neither: Kokoro's output as is
    np.testing.assert_array_equal(untouched, engine.audio)
    with pytest.raises(VoicekitError) as bad:
        synthesizer.speak("Hello.", "af_a", profile={**warped, "formantWarp": {"alpha": 2.0}})
    assert bad.value.code == "invalid_profile"


def test_the_enroller_switch(monkeypatch):
    from voicekit import kokoro_enrol as ke

    monkeypatch.setenv(ke.FORMANT_WARP_ENV, "0")
    assert ke._switch(ke.FORMANT_WARP_ENV) is False
    monkeypatch.setenv(ke.FORMANT_WARP_ENV, "1")
    assert ke._switch(ke.FORMANT_WARP_ENV) is True
    monkeypatch.delenv(ke.FORMANT_WARP_ENV)
    assert ke._switch(ke.FORMANT_WARP_ENV) is True
