"""voicekit's voice work without Triton: decoding uploads, the YIN pitch tracker, enrolment (profile or a clear
refusal), PSOLA pitch modification and how synthesis applies a profile."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from tests import voice_audio
from voicekit import decode, enrolment, pitch, profile, psola
from voicekit.errors import VoicekitError

RATE = 16000
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="flite (Debian package) is not installed")


@pytest.fixture(autouse=True)
def quick_tuning(monkeypatch):
    """These tests are about decoding, checks and measurements: the conversion tuning (tests/unit/
    test_voice_conversion.py, bench/voice_quality.py) only chooses the base voice here (a zero budget)."""
    monkeypatch.setenv(enrolment.BUDGET_ENV, "0")


@pytest.fixture(scope="module")
def awb_wav():
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed")
    return voice_audio.flite_wav(voice="awb")


# --- decode -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("head, name", [
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
    (b"\xff\xfb\x90\x64" + b"\x00" * 8, "mp3"),   # MPEG-1 layer III frame header
    (b"\xff\xf3\x64\xc4" + b"\x00" * 8, "mp3"),   # MPEG-2 layer III
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "webm"),
    (b"OggS\x00\x02" + b"\x00" * 8, "ogg"),
])
def test_sniff_recognises_the_four_containers(head, name):
    assert decode.sniff(head).name == name


@pytest.mark.parametrize("head", [b"", b"hello world, not audio", b"RIFF\x24\x00\x00\x00AVI LIST",
                                  b"\xff\xf1\x50\x80" + b"\x00" * 8,  # AAC ADTS: layer bits 00
                                  b"\xff\xff\xff\xff", b"\x89PNG\r\n\x1a\n", b"fLaC\x00\x00\x00\x22"])
def test_sniff_refuses_everything_else(head):
    assert decode.sniff(head) is None


@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm", "ogg"])
def test_decode_gives_16k_mono_of_the_right_length(fmt):
    source = voice_audio.tone(2.0, freq=220, rate=22050)
    samples, name = decode.decode(voice_audio.encode(source, 22050, fmt), rate=16000)
    assert name == fmt
    assert abs(len(samples) / 16000 - 2.0) < 0.08
    assert abs(voice_audio.median_f0(samples, 16000) - 220) < 3


def test_decode_stops_at_the_length_limit():
    long = voice_audio.encode(voice_audio.tone(12.0, rate=8000), 8000, "wav")
    with pytest.raises(VoicekitError) as exc:
        decode.decode(long, max_seconds=10)
    assert exc.value.code == "audio_too_long"


def test_decode_refuses_damaged_and_foreign_files():
    with pytest.raises(VoicekitError) as exc:
        decode.decode(b"just some text")
    assert exc.value.code == "unsupported_audio" and exc.value.invalid_input
    with pytest.raises(VoicekitError) as exc:
        decode.decode(b"RIFF\x00\x10\x00\x00WAVEfmt " + b"\xff" * 64)
    assert exc.value.code == "invalid_audio"


# --- pitch ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("freq", [70.0, 110.0, 196.0, 310.0, 440.0])
def test_yin_finds_the_pitch_of_harmonic_tones(freq):
    t = np.arange(RATE) / RATE
    x = 0.4 * np.sin(2 * np.pi * freq * t) + 0.2 * np.sin(2 * np.pi * 2 * freq * t) + 0.1 * np.sin(
        2 * np.pi * 3 * freq * t)
    stats = pitch.stats(pitch.track(x, RATE))
    assert abs(stats.median_hz / freq - 1) < 0.01
    assert stats.log_std < 0.01 and stats.voiced_ratio > 0.9


def test_silence_and_noise_have_no_pitch():
    assert pitch.stats(pitch.track(np.zeros(RATE, np.float32), RATE)) is None
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    track = pitch.track(noise, RATE)
    assert track.voiced.mean() < 0.05


def test_stats_ignore_octave_errors():
    f0 = np.full(200, 120.0, dtype=np.float32)
    f0[::10] = 240.0  # 10 % doubled frames
    stats = pitch.stats(pitch.F0Track(f0, 160, RATE))
    assert abs(stats.median_hz - 120) < 0.01 and abs(math.exp(stats.log_mean) - 120) < 0.5


@needs_flite
def test_the_base_voice_table_matches_this_flite():
    """BASE_VOICE_F0 was measured on Debian's flite 2.2; another build must not silently pick wrong voices."""
    for name, (log_mean, log_std) in profile.BASE_VOICE_F0.items():
        samples, rate = voice_audio.read_wav(voice_audio.flite_wav(voice=name))
        stats = pitch.stats(pitch.track(samples, rate))
        assert abs(stats.log_mean - log_mean) < 0.03, (name, stats.log_mean)
        assert abs(stats.log_std - log_std) < 0.03, (name, stats.log_std)


# --- enrolment --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm", "ogg"])
def test_enrol_flite_speech_in_every_format(awb_wav, fmt):
    result = enrolment.enroll(voice_audio.convert(awb_wav, fmt))
    samples, rate = voice_audio.read_wav(awb_wav)
    assert result.engine_voice == "awb"
    assert abs(result.duration_s - len(samples) / rate) < 0.1
    p = result.profile
    assert p["version"] == 2 and p["method"] == "world-vc" and p["container"] == fmt
    assert p["engineVoice"] == "awb" == p["conversion"]["baseVoice"] == p["pitchVoice"]
    assert len(p["embedding"]) == 256 and len(p["envelopeDb"]) > 10 and len(p["formantsHz"]) == 3
    assert abs(p["f0"]["logMean"] - profile.BASE_VOICE_F0["awb"][0]) < 0.03
    assert 0 < p["speechS"] <= p["durationS"]
    assert json.loads(result.profile_json) == p
    assert profile.parse(result.profile_json) == p  # what enrolment writes, synthesis reads


@pytest.mark.parametrize("freq, voice", [(90.0, "kal16"), (104.0, "rms"), (125.0, "awb"), (170.0, "slt"),
                                         (240.0, "slt")])
def test_the_closest_base_voice_by_pitch_is_chosen(freq, voice):
    """``pitchVoice`` is the closest by pitch; the engine voice is chosen by speaker similarity (meaningless for a
    tone, so not asserted here; see test_voice_conversion.py and the benchmark)."""
    t = np.arange(5 * RATE) / RATE
    vibrato = 1 + 0.03 * np.sin(2 * np.pi * 5 * t)
    x = (0.3 * np.sin(2 * np.pi * freq * np.cumsum(vibrato) / RATE)).astype(np.float32)
    result = enrolment.enroll(voice_audio.to_wav(x, RATE))
    assert result.profile["pitchVoice"] == voice
    assert result.engine_voice in ("slt", "awb", "rms", "kal16")
    assert abs(result.profile["f0"]["medianHz"] / freq - 1) < 0.03


@pytest.mark.parametrize("samples, code, words", [
    (voice_audio.silence(5.0), "audio_silent", "silent"),
    (voice_audio.tone(5.0, amplitude=0.002), "audio_silent", "silent"),  # -57 dBFS: below the floor
    (np.concatenate([voice_audio.silence(2), voice_audio.tone(1.5), voice_audio.silence(2)]), "audio_too_short",
     "1.5 s of sound"),
    (np.clip(voice_audio.tone(5.0, amplitude=3.0), -1, 1), "audio_clipped", "clipped"),
    (np.random.default_rng(3).standard_normal(5 * RATE).astype(np.float32) * 0.1, "no_voiced_speech",
     "no clear voice"),
])
def test_unusable_references_are_refused_with_reasons(samples, code, words):
    with pytest.raises(VoicekitError) as exc:
        enrolment.enroll(voice_audio.to_wav(samples, RATE))
    assert exc.value.code == code and exc.value.invalid_input
    assert words in exc.value.message


def test_too_long_is_refused_before_decoding_it_all():
    samples = voice_audio.tone(301.0, rate=8000, amplitude=0.3)
    with pytest.raises(VoicekitError) as exc:
        enrolment.enroll(voice_audio.to_wav(samples, 8000))
    assert exc.value.code == "audio_too_long" and "5 minutes" in exc.value.message


def test_leading_and_trailing_silence_is_trimmed(awb_wav):
    samples, rate = voice_audio.read_wav(awb_wav)
    padded = np.concatenate([np.zeros(3 * rate, np.float32), samples, np.zeros(4 * rate, np.float32)])
    result = enrolment.enroll(voice_audio.to_wav(padded, rate))
    assert abs(result.duration_s - len(padded) / rate) < 0.05
    assert result.profile["speechS"] < len(samples) / rate + 0.1


def test_a_3_s_recording_of_speech_is_a_reference_even_with_silence_at_its_edges(awb_wav):
    """Issue 11: 3 s references are cloned. Speech framed by silence keeps less than 3 s of sound once trimmed."""
    samples, rate = voice_audio.read_wav(awb_wav)
    assert rate == enrolment.RATE
    first = int(np.argmax(np.abs(samples) > 0.02))                  # where flite's speech starts
    three = np.concatenate([np.zeros(int(0.25 * rate), np.float32), samples[first:first + int(2.5 * rate)],
                            np.zeros(int(0.25 * rate), np.float32)])
    screened = enrolment.screen(three, rate)
    assert len(three) == 3 * rate and enrolment.MIN_SPEECH_S <= screened.speech_s < 2.8
    with pytest.raises(VoicekitError) as exc:                         # but not 1.5 s of speech in 3 s
        enrolment.screen(np.concatenate([np.zeros(int(0.75 * rate), np.float32),
                                         samples[first:first + int(1.5 * rate)],
                                         np.zeros(int(0.75 * rate), np.float32)]), rate)
    assert exc.value.code == "audio_too_short" and "at least 2 s" in exc.value.message


def _breathy_voice(noise: float, seconds: float = 3.0) -> np.ndarray:
    """A 120 Hz voice buried in breath noise of ``noise`` times its amplitude."""
    t = np.arange(int(seconds * RATE)) / RATE
    voice = np.sin(2 * np.pi * 120 * t) + 0.5 * np.sin(2 * np.pi * 240 * t)
    return (0.2 * (voice + noise * np.random.default_rng(5).standard_normal(len(t)))).astype(np.float32)


def test_a_breathy_3_s_voice_is_a_reference_but_breath_alone_is_not():
    """Issue 11: 3 s references are cloned. A breathy or creaky voice has no YIN dip below 0.2 (the strict track
    finds no voice in it), so the refusal counts voiced frames leniently; noise has none either way."""
    breathy = _breathy_voice(0.55)
    assert pitch.track(breathy, RATE).voiced.sum() * 0.01 < enrolment.MIN_VOICED_S   # strict: no voice
    screened = enrolment.screen(breathy, RATE)
    assert abs(screened.f0.median_hz / 120 - 1) < 0.03
    assert screened.f0.voiced_frames * 0.01 >= enrolment.MIN_VOICED_S
    with pytest.raises(VoicekitError) as exc:
        enrolment.screen(_breathy_voice(1.0), RATE)
    assert exc.value.code == "no_voiced_speech" and "at least 0.75 s" in exc.value.message


def test_a_voice_the_strict_track_hears_keeps_the_strict_statistics():
    """The lenient track is only the fallback: where the strict one finds enough voice, its frames are the ones
    counted (here it misses about a third of them, which the lenient one would count)."""
    voice = _breathy_voice(0.4)
    strict, lenient = (pitch.track(voice, RATE, threshold=t).voiced.sum() for t in (pitch.YIN_THRESHOLD,
                                                                                 enrolment.VOICE_PRESENT_THRESHOLD))
    assert enrolment.MIN_VOICED_S * 100 <= strict < 0.85 * lenient
    screened = enrolment.screen(voice, RATE)
    assert screened.f0.voiced_frames < 0.9 * lenient
    assert abs(screened.f0.median_hz / 120 - 1) < 0.03


def test_empty_reference_is_refused():
    with pytest.raises(VoicekitError) as exc:
        enrolment.enroll(b"")
    assert exc.value.code == "invalid_audio"


# --- PSOLA and profiles -----------------------------------------------------------------------------------------

@needs_flite
@pytest.mark.parametrize("ratio", [0.75, 1.25, 1.5])
def test_psola_moves_the_pitch_and_keeps_the_duration(ratio):
    samples, rate = voice_audio.read_wav(voice_audio.flite_wav("Hello there, this is a pitch test.", "rms"))
    shifted = psola.shift(samples, rate, lambda f0: np.full_like(f0, ratio))
    assert len(shifted) == len(samples) and shifted.dtype == np.float32
    assert float(np.abs(shifted).max()) <= 0.99
    before, after = voice_audio.median_f0(samples, rate), voice_audio.median_f0(shifted, rate)
    assert abs(after / before / ratio - 1) < 0.05, (before, after)


@needs_flite
def test_psola_with_ratio_one_gives_back_the_input():
    samples, rate = voice_audio.read_wav(voice_audio.flite_wav("Hello there, this is a pitch test.", "slt"))
    same = psola.shift(samples, rate, lambda f0: np.ones_like(f0))
    error = np.sqrt(np.mean((same - samples) ** 2)) / np.sqrt(np.mean(samples ** 2))
    assert error < 0.15, error


def test_log_f0_mapping_matches_mean_and_range():
    ratio_of = psola.map_log_f0(math.log(100), 0.1, math.log(200), 0.2)
    f0 = np.array([100.0, 100 * math.exp(0.1), 100 * math.exp(-0.1)])
    mapped = f0 * ratio_of(f0)
    assert np.allclose(mapped, [200, 200 * math.exp(0.2), 200 * math.exp(-0.2)])


@needs_flite
def test_adapt_moves_synthesis_toward_the_profile():
    samples, rate = voice_audio.read_wav(voice_audio.flite_wav("Good morning, how are you today?", "slt"))
    target = {"version": 1, "f0": {"logMean": math.log(205.0), "logStd": 0.1}}
    adapted = profile.adapt(samples, rate, target, "slt")
    assert abs(voice_audio.median_f0(adapted, rate) / 205.0 - 1) < 0.06
    assert profile.adapt(samples, rate, None, "slt") is samples  # no profile: the system voice as is


@pytest.mark.parametrize("text, code", [
    ("not json", "invalid_profile"), ("[]", "invalid_profile"), ('{"version": 1}', "invalid_profile"),
    ('{"version": 1, "f0": {"logMean": "x", "logStd": 0.1}}', "invalid_profile"),
    ('{"version": 1, "f0": {"logMean": 50, "logStd": 0.1}}', "invalid_profile"),
    ('{"version": 0, "f0": {"logMean": 5, "logStd": 0.1}}', "invalid_profile"),
    ('{"version": 1, "f0": {"logMean": NaN, "logStd": 0.1}}', "invalid_profile"),
])
def test_bad_profiles_are_refused(text, code):
    with pytest.raises(VoicekitError) as exc:
        profile.parse(text)
    assert exc.value.code == code


def test_empty_profile_means_the_system_voice():
    assert profile.parse("") is None and profile.parse("  ") is None and profile.parse(None) is None
    assert profile.parse('{"version": 1, "f0": {"logMean": 5.0, "logStd": 0.1}, "future": 1}')["future"] == 1
