"""The `enroll` model and `synthesize` with a PROFILE, through InferenceClient against the real Triton server."""
from __future__ import annotations

import math

import numpy as np
import pytest

from inference_client import InferenceError, VoiceProfile
from tests import voice_audio

from .conftest import run_with_client

pytestmark = pytest.mark.integration


def run(settings, use):
    return run_with_client(settings, use)


def test_enroll_model_is_ready(settings):
    async def ready(client):
        grpc = client._grpc()
        return await grpc.is_model_ready("enroll") and await grpc.is_model_ready("synthesize")

    assert run(settings, ready)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm", "ogg"])
def test_enroll_makes_a_profile_from_each_format(settings, fmt):
    reference = voice_audio.flite_wav(voice="rms")
    result = run(settings, lambda client: client.enroll(voice_audio.convert(reference, fmt)))
    assert isinstance(result, VoiceProfile)
    # Kokoro enrolment (profile version 3): the base is a male stock voice (`am_*`/`bm_*`) for this 104 Hz male
    # speaker; the flite conversion (version 2) chose flite's own `rms` here.
    assert result.profile["version"] == 3 and result.engine_voice == result.profile["engineVoice"]
    assert result.engine_voice[:2] in ("am", "bm"), result.engine_voice
    samples, rate = voice_audio.read_wav(reference)
    assert abs(result.duration_s - len(samples) / rate) < 0.1
    assert result.profile["f0"]["medianHz"] == pytest.approx(104, rel=0.05)


@pytest.mark.parametrize("audio, code", [
    (voice_audio.to_wav(voice_audio.silence(5.0), 16000), "audio_silent"),
    (voice_audio.to_wav(voice_audio.tone(1.0), 16000), "audio_too_short"),
    (b"definitely not audio", "unsupported_audio"),
])
def test_unusable_audio_is_a_clear_non_retryable_error(settings, audio, code):
    with pytest.raises(InferenceError) as exc:
        run(settings, lambda client: client.enroll(audio))
    assert exc.value.code == code and not exc.value.retryable and exc.value.reason


def test_synthesize_with_a_profile_moves_the_pitch_and_keeps_the_system_path(settings):
    target_hz = 140.0
    profile = {"version": 1, "engineVoice": "awb", "f0": {"logMean": math.log(target_hz), "logStd": 0.12}}
    text = "This sentence is spoken with and without a voice profile."

    async def both(client):
        plain = await client.synthesize(text, "awb")
        same = await client.synthesize_with_profile(text, "awb", None)
        shaped = await client.synthesize_with_profile(text, "awb", profile)
        return plain, same, shaped

    plain, same, shaped = run(settings, both)
    assert np.array_equal(plain.samples, same.samples)  # no profile: exactly the system voice
    assert abs(shaped.duration_s - plain.duration_s) < 0.05
    plain_f0 = voice_audio.median_f0(plain.samples, plain.sample_rate)
    shaped_f0 = voice_audio.median_f0(shaped.samples, shaped.sample_rate)
    assert abs(shaped_f0 / target_hz - 1) < 0.06, (plain_f0, shaped_f0)
    assert abs(plain_f0 / target_hz - 1) > 0.08


def test_a_bad_profile_is_refused(settings):
    with pytest.raises(InferenceError) as exc:
        run(settings, lambda client: client.synthesize_with_profile("Hi.", "slt", '{"version": 1}'))
    assert exc.value.code == "invalid_profile" and not exc.value.retryable
