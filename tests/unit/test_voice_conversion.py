"""The voice conversion's pure functions (voicekit.vocoder, voicekit.conversion, voicekit.formants) and how
synthesis applies a version-2 profile and a target duration — without Triton."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from tests import voice_audio
from voicekit import conversion, formants, pitch, profile, vocoder
from voicekit.errors import VoicekitError

RATE = 16000
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite (Debian package) is not installed")


def vowel(seconds: float = 1.5, f0: float = 140.0, formant_hz=(700.0, 1200.0, 2600.0), rate: int = RATE,
          vibrato: float = 0.02) -> np.ndarray:
    """A vowel-like test signal: a glottal pulse train (slight vibrato) through three resonators."""
    n = int(seconds * rate)
    t = np.arange(n) / rate
    phase = np.cumsum(f0 * (1 + vibrato * np.sin(2 * np.pi * 4 * t)) / rate)
    pulses = np.diff(np.floor(phase), prepend=0.0)
    signal = pulses.astype(np.float64)
    for freq in formant_hz:  # two-pole resonators, 80 Hz bandwidth
        r = math.exp(-math.pi * 80.0 / rate)
        a1, a2 = -2 * r * math.cos(2 * math.pi * freq / rate), r * r
        out = np.zeros_like(signal)
        for i in range(n):
            out[i] = signal[i] - a1 * (out[i - 1] if i else 0.0) - a2 * (out[i - 2] if i > 1 else 0.0)
        signal = out
    signal /= np.max(np.abs(signal))
    return (0.5 * signal).astype(np.float32)


@pytest.fixture(scope="module")
def vowel_features():
    return vocoder.analyze(vowel(), RATE)


# --- F0 mapping ---------------------------------------------------------------------------------------------------

def test_f0_mapping_preserves_voicing_and_matches_the_target_statistics():
    rng = np.random.default_rng(1)
    f0 = np.exp(rng.normal(math.log(110.0), 0.1, 500))
    f0[rng.random(500) < 0.4] = 0.0  # unvoiced frames
    mapped = conversion.map_f0(f0, (math.log(110.0), 0.1), (math.log(200.0), 0.15))
    assert np.array_equal(mapped > 0, f0 > 0)  # voiced stays voiced, unvoiced stays unvoiced (0)
    logs = np.log(mapped[mapped > 0])
    assert logs.mean() == pytest.approx(math.log(200.0), abs=0.03)
    assert logs.std() == pytest.approx(0.15, rel=0.15)


def test_f0_mapping_bounds_the_range_scale():
    f0 = np.array([0.0, 100.0, 121.0, 0.0])
    mapped = conversion.map_f0(f0, (math.log(110.0), 0.01), (math.log(110.0), 0.5))  # ratio 50 → bounded to 2
    assert mapped[0] == 0 and mapped[3] == 0
    assert math.log(mapped[2] / mapped[1]) == pytest.approx(2 * math.log(1.21), rel=1e-6)


# --- frequency warp -------------------------------------------------------------------------------------------------

def test_warp_is_identity_at_one_monotone_and_keeps_nyquist():
    freqs = np.linspace(0, 8000, 257)
    assert np.allclose(conversion.warp_source_hz(freqs, 1.0, 8000.0), freqs)
    for alpha in (0.8, 0.9, 1.1, 1.25):
        source = conversion.warp_source_hz(freqs, alpha, 8000.0)
        assert np.all(np.diff(source) > 0)
        assert source[0] == 0 and source[-1] == pytest.approx(8000.0)
        assert source[10] == pytest.approx(freqs[10] / alpha)  # low band: formants move by alpha


def test_warp_moves_a_spectral_peak_by_alpha():
    bins = 513
    freqs = vocoder.frequencies(RATE, 1024)
    envelope = np.exp(-((freqs - 1000.0) / 150.0) ** 2)[None, :] + 1e-6
    warped = conversion.warp_rows(envelope, 1.1, RATE)
    assert warped.shape == (1, bins)
    assert freqs[np.argmax(warped[0])] == pytest.approx(1100.0, abs=20.0)


# --- EQ ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_eq_curve_is_bounded_smooth_and_level_free(seed):
    rng = np.random.default_rng(seed)
    target = rng.normal(0, 30, conversion.GRID_POINTS)  # wild differences (±60 dB)
    source = rng.normal(0, 30, conversion.GRID_POINTS)
    for strength in (0.5, 1.0, 3.0):
        curve = conversion.eq_curve(target, source, strength)
        assert np.all(np.abs(curve) <= conversion.MAX_EQ_DB + 1e-9)
    gentle = conversion.eq_curve(source + np.linspace(-3, 3, conversion.GRID_POINTS), source, 1.0)
    assert abs(gentle.mean()) < 0.5  # the level is not the EQ's business
    assert np.all(np.abs(np.diff(gentle)) < 0.5)


def test_apply_eq_gain_is_bounded_even_for_a_forged_curve():
    envelope = np.ones((3, 513))
    eq = np.full(conversion.GRID_POINTS, 80.0)  # a forged profile: 80 dB
    out = conversion.apply_eq(envelope, eq, RATE)
    assert np.allclose(out, 10 ** (conversion.MAX_EQ_DB / 10))
    only_second = conversion.apply_eq(envelope, -eq, RATE, rows=np.array([False, True, False]))
    assert np.allclose(only_second[0], 1) and np.allclose(only_second[1], 10 ** (-conversion.MAX_EQ_DB / 10))


def test_eq_toward_a_target_reduces_the_distance(vowel_features):
    source = conversion.average_envelope_db(vowel_features)
    target = source + 6 * np.sin(np.linspace(0, np.pi, len(source)))
    eq = conversion.eq_curve(target, source)
    converted = vowel_features.with_(envelope=conversion.apply_eq(vowel_features.envelope, eq, RATE,
                                                                  rows=vowel_features.voiced))
    after = conversion.average_envelope_db(converted)

    def distance(a, b):
        d = a - b
        return np.std(d - d.mean())

    assert distance(after, target) < 0.3 * distance(source, target)


# --- vocoder ---------------------------------------------------------------------------------------------------------

def test_vocoder_round_trip_keeps_pitch_level_and_spectrum(vowel_features):
    x = vowel()
    y = vocoder.synthesize(vowel_features)
    assert abs(len(y) - len(x)) <= vowel_features.hop
    assert voice_audio.median_f0(y, RATE) == pytest.approx(voice_audio.median_f0(x, RATE), rel=0.02)
    level = conversion.active_rms(y, RATE) / conversion.active_rms(x, RATE)
    assert 0.7 < level < 1.4
    assert vowel_features.voiced[20:-20].mean() > 0.95
    again = conversion.average_envelope_db(vocoder.analyze(y, RATE))
    first = conversion.average_envelope_db(vowel_features)
    assert np.corrcoef(first, again)[0, 1] > 0.98


def test_white_noise_is_analysed_as_aperiodic_and_resynthesised_at_its_level():
    noise = (0.1 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32)
    features = vocoder.analyze(noise, RATE, f0=np.zeros(RATE // 80 + 1))
    assert features.envelope[10:-10].mean() == pytest.approx(0.01, rel=0.1)  # power per sample
    y = vocoder.synthesize(features)
    assert np.std(y[2000:-2000]) == pytest.approx(0.1, rel=0.15)


# --- time scaling ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [0.6, 1.5, 2.0])
def test_time_scaling_changes_duration_not_pitch(vowel_features, factor):
    scaled = vocoder.time_scale(vowel_features, factor)
    y = vocoder.synthesize(scaled)
    assert len(y) / RATE == pytest.approx(factor * vowel_features.duration_s, abs=0.011)
    assert voice_audio.median_f0(y, RATE) == pytest.approx(140.0, rel=0.03)
    assert np.array_equal(np.unique(scaled.voiced), np.unique(vowel_features.voiced))


def test_scale_duration_hits_a_target_length(vowel_features):
    scaled = conversion.scale_duration(vowel_features, duration_s=3.0)
    assert scaled.duration_s == pytest.approx(3.0, abs=0.006)
    faster = conversion.scale_duration(vowel_features, speed=2.0)
    assert faster.duration_s == pytest.approx(vowel_features.duration_s / 2, abs=0.006)


def test_time_scaling_keeps_unvoiced_runs_unvoiced():
    f0 = np.array([0, 0, 120, 121, 122, 0, 0, 0, 130, 131], dtype=float)
    features = vocoder.Features(f0=f0, envelope=np.ones((10, 513)), aperiodicity=np.ones((10, 513)),
                                sample_rate=RATE, hop=80, fft_size=1024)
    scaled = vocoder.time_scale(features, 3.0)
    assert len(scaled.f0) == 30
    assert np.all(scaled.f0[:4] == 0) and np.all(scaled.f0[16:22] == 0)
    assert np.all((scaled.f0[scaled.f0 > 0] >= 120) & (scaled.f0[scaled.f0 > 0] <= 131))


# --- formants ---------------------------------------------------------------------------------------------------------

def test_formants_of_a_synthetic_vowel():
    found = formants.formants(vowel(formant_hz=(600.0, 1500.0, 2500.0)), RATE)
    assert found is not None
    assert found[0] == pytest.approx(600, rel=0.12)
    assert found[1] == pytest.approx(1500, rel=0.08)
    assert found[2] == pytest.approx(2500, rel=0.08)


# --- the whole conversion --------------------------------------------------------------------------------------------

def test_convert_moves_pitch_and_formants(vowel_features):
    settings = conversion.Settings(source_f0=(math.log(140.0), 0.02), target_f0=(math.log(210.0), 0.02),
                                   warp=1.15)
    converted = conversion.convert(vowel_features, settings)
    assert np.array_equal(converted.voiced, vowel_features.voiced)
    y = vocoder.synthesize(converted)
    assert voice_audio.median_f0(y, RATE) == pytest.approx(210.0, rel=0.04)
    found = formants.formants(y, RATE)
    assert found[1] == pytest.approx(1200 * 1.15, rel=0.1)


def test_settings_round_trip_through_the_profile_document():
    settings = conversion.Settings(source_f0=(4.6, 0.1), target_f0=(5.2, 0.12), warp=1.1, f0_range=0.8,
                                   eq_voiced_db=tuple(np.linspace(-3, 3, conversion.GRID_POINTS)),
                                   eq_unvoiced_db=tuple(np.zeros(conversion.GRID_POINTS)), breathiness=1.3)
    document = {"version": 2, "f0": {"logMean": 5.2, "logStd": 0.12},
                "conversion": {**settings.to_dict(), "baseVoice": "rms"}}
    parsed = profile.parse(json.dumps(document))
    again = profile.conversion_settings(parsed)
    assert again.warp == pytest.approx(1.1) and again.f0_range == pytest.approx(0.8)
    assert again.target_f0 == pytest.approx((5.2, 0.12)) and again.source_f0 == pytest.approx((4.6, 0.1))
    assert np.allclose(again.eq_voiced_db, settings.eq_voiced_db, atol=0.01)
    assert profile.speaking_voice(parsed, "slt") == "rms"
    assert profile.conversion_settings({"version": 1, "f0": {"logMean": 5.0, "logStd": 0.1}}) is None


@pytest.mark.parametrize("change", [
    {"baseVoice": "nobody"}, {"warp": 3.0}, {"warp": "x"}, {"eqVoicedDb": [1.0, 99.0]}, {"eqVoicedDb": "loud"},
    {"sourceF0": None}, {"targetF0": {"logMean": 50, "logStd": 0.1}}, {"breathiness": float("nan")},
])
def test_bad_conversion_blocks_are_refused(change):
    block = {"baseVoice": "rms", "sourceF0": {"logMean": 4.6, "logStd": 0.1},
             "targetF0": {"logMean": 5.0, "logStd": 0.1}, "warp": 1.0, "eqVoicedDb": [0.0, 1.0]}
    block.update(change)
    text = json.dumps({"version": 2, "f0": {"logMean": 5.0, "logStd": 0.1}, "conversion": block})
    with pytest.raises(VoicekitError) as exc:
        profile.parse(text)
    assert exc.value.code == "invalid_profile"


# --- synthesis with a profile / a duration (flite) --------------------------------------------------------------------

@pytest.fixture(scope="module")
def synthesizer():
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    from voicekit.tts import Synthesizer

    synth = Synthesizer()
    yield synth
    synth.close()


TEXT = "The quick brown fox jumps over the lazy dog."


@needs_flite
def test_speak_without_profile_or_duration_is_the_system_voice_levelled(synthesizer):
    from voicekit.pcm import level

    plain, rate = synthesizer.synthesize(TEXT, "slt", 1.2)
    same, same_rate = synthesizer.speak(TEXT, "slt", 1.2)
    assert same_rate == rate and np.array_equal(level(plain, rate, synthesizer.output_lufs), same)


@needs_flite
@pytest.mark.parametrize("target", [1.8, 3.0, 5.0])
def test_speak_hits_the_requested_duration_with_the_pitch_kept(synthesizer, target):
    plain, rate = synthesizer.synthesize(TEXT, "rms")
    timed, _ = synthesizer.speak(TEXT, "rms", duration_s=target)
    assert len(timed) / rate == pytest.approx(target, abs=0.02)
    assert voice_audio.median_f0(timed, rate) == pytest.approx(voice_audio.median_f0(plain, rate), rel=0.05)


@needs_flite
def test_speak_with_a_version_2_profile_uses_its_base_voice_pitch_and_speed(synthesizer):
    settings = conversion.Settings(source_f0=profile.BASE_VOICE_F0["rms"], target_f0=(math.log(190.0), 0.08),
                                   warp=1.12)
    document = {"version": 2, "f0": {"logMean": math.log(190.0), "logStd": 0.08},
                "conversion": {**settings.to_dict(), "baseVoice": "rms"}}
    parsed = profile.parse(json.dumps(document))
    normal, rate = synthesizer.speak(TEXT, "slt", 1.0, profile=parsed)  # VOICE is overridden by the profile's
    fast, _ = synthesizer.speak(TEXT, "slt", 2.0, profile=parsed)
    plain_rms, _ = synthesizer.synthesize(TEXT, "rms")
    assert len(normal) == pytest.approx(len(plain_rms), rel=0.01)
    assert len(fast) / len(normal) == pytest.approx(0.5, abs=0.02)
    assert voice_audio.median_f0(normal, rate) == pytest.approx(190.0, rel=0.08)
    assert voice_audio.median_f0(fast, rate) == pytest.approx(190.0, rel=0.08)
    assert np.max(np.abs(normal)) <= 1.0


@needs_flite
@pytest.mark.parametrize("duration", [-1.0, float("nan"), 0.05, 60.0])
def test_impossible_durations_are_refused(synthesizer, duration):
    with pytest.raises(VoicekitError) as exc:
        synthesizer.speak(TEXT, "slt", duration_s=duration)
    assert exc.value.code == "invalid_duration" and exc.value.invalid_input


def test_pitch_tracker_agrees_on_the_test_vowel():
    stats = pitch.stats(pitch.track(vowel(), RATE))
    assert math.exp(stats.log_mean) == pytest.approx(140.0, rel=0.02)


# --- long audio -------------------------------------------------------------------------------------------------------

def test_long_audio_is_converted_in_pieces_cut_at_quiet_points():
    from voicekit import voiceclone

    piece = vowel(seconds=4.0)
    gap = np.zeros(int(0.3 * RATE), dtype=np.float32)
    audio = np.concatenate([piece, gap] * 12)  # 51.6 s
    cuts = voiceclone.split_points(audio, RATE, max_s=10.0)
    assert cuts and all(b - a <= 10 * RATE for a, b in zip([0, *cuts], [*cuts, len(audio)], strict=True))
    assert all(np.max(np.abs(audio[c - 80: c + 80])) < 1e-6 for c in cuts)  # in the pauses
    settings = conversion.Settings(source_f0=(math.log(140.0), 0.02), target_f0=(math.log(180.0), 0.02))
    out = voiceclone.synthesize_converted(audio, RATE, settings, duration_s=40.0)
    assert len(out) == 40 * RATE
    assert voice_audio.median_f0(out, RATE) == pytest.approx(180.0, rel=0.04)
