"""Voice cloning through Triton: enrol a synthetic speaker (`enroll`), speak held-out text with the profile
(`synthesize` + PROFILE), and check with the `speaker_encoder` model that the clone is closer to the reference than
the unconverted base voice is — plus the DURATION input. The full quality benchmark is `python -m
bench.voice_quality` (docs/voice-quality.md)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from inference_client import Audio, InferenceError
from tests import voice_audio

from .conftest import run_with_client

pytestmark = pytest.mark.integration

RATE = 16000
HELD_OUT = ("The stale smell of old beer lingers.", "Rice is often served in round bowls.",
            "Help the woman get back to her feet.")
LEVEL_DBFS = -36.0


def run(settings, use):
    return run_with_client(settings, use, timeout_s=120.0)


def at_level(audio: Audio) -> Audio:
    """Scale to -36 dBFS RMS: below Resemblyzer's -30 dBFS floor, so the encoder raises every clip to the same level
    and the embeddings do not depend on the clips' gains."""
    samples = np.asarray(audio.samples, dtype=np.float32)
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    return Audio(samples * np.float32(10 ** (LEVEL_DBFS / 20) / max(rms, 1e-9)), audio.sample_rate)


def reference_speaker() -> tuple[str, callable]:
    """A synthetic target that is none of the system voices: flite slt (recorded from a real speaker) with its
    formants lowered ×0.87 (resampled, pitch put back by PSOLA). espeak-ng's formant voices are a poor stand-in for
    a person: no neural synthesizer gets near them (docs/voice-quality.md), so they are not the target here."""
    from bench import voice_speakers

    return "slt, formants x0.87", voice_speakers.vtl_variant(voice_speakers.flite_render("slt"), 0.87)


@pytest.fixture(scope="module")
def cloned(settings):
    from bench import voice_speakers
    from voicekit.pcm import join_segments

    name, render = reference_speaker()
    reference = join_segments([render(s) for s in voice_speakers.ENROL_TEXT], RATE, gap_s=0.3)
    held_out = [render(s) for s in HELD_OUT]
    enrolled = run(settings, lambda client: client.enroll(voice_audio.to_wav(reference, RATE)))
    return name, reference, held_out, enrolled


def test_the_clone_is_closer_to_the_reference_than_its_base_voice(settings, cloned):
    name, reference, held_out, enrolled = cloned
    profile = enrolled.profile
    assert profile["version"] == 3 and profile["method"] == "kokoro-style"
    assert enrolled.engine_voice == profile["engineVoice"]  # the nearest Kokoro stock voice: the unconverted base
    assert enrolled.duration_s == pytest.approx(len(reference) / RATE, abs=0.1)

    async def measure(client):
        ref = await client.embed(at_level(Audio(reference, RATE)))
        scores = {"clone": [], "base": [], "own": []}
        for text, own in zip(HELD_OUT, held_out, strict=True):
            base = await client.synthesize(text, enrolled.engine_voice)
            clone = await client.synthesize_with_profile(text, enrolled.engine_voice, enrolled.profile_json)
            for key, audio in (("clone", clone), ("base", base), ("own", Audio(own, RATE))):
                scores[key].append(float(np.dot(await client.embed(at_level(audio)), ref)))
        return {key: float(np.mean(values)) for key, values in scores.items()}

    scores = run(settings, measure)
    print(f"{name}: base voice {enrolled.engine_voice}, similarity to the reference {scores}")
    # The base is the nearest Kokoro stock voice, itself the product of a nearest-voice search (not an arbitrary
    # system voice as for the flite conversion), so the margin a style recipe adds on top is smaller; the full
    # benchmark (docs/voice-quality.md) measures +0.09 on average with the default budget.
    assert scores["clone"] > scores["base"] + 0.03, scores
    assert scores["own"] > scores["clone"], scores  # sanity: the speaker itself is still the closest


@pytest.mark.parametrize("with_profile", [True, False])
def test_duration_control(settings, cloned, with_profile):
    _, _, _, enrolled = cloned
    text = "Please call me back when you get this message."
    profile = enrolled.profile_json if with_profile else None

    async def speak(client):
        natural = await client.synthesize_with_profile(text, enrolled.engine_voice, profile)
        timed = await client.synthesize_with_profile(text, enrolled.engine_voice, profile, duration_s=3.0)
        slower = await client.synthesize_with_profile(text, enrolled.engine_voice, profile, duration_s=4.5)
        return natural, timed, slower

    natural, timed, slower = run(settings, speak)
    assert timed.duration_s == pytest.approx(3.0, abs=0.15)
    assert slower.duration_s == pytest.approx(4.5, abs=0.15)
    assert voice_audio.median_f0(timed.samples, timed.sample_rate) == pytest.approx(
        voice_audio.median_f0(natural.samples, natural.sample_rate), rel=0.06)  # tempo changed, pitch did not


def test_speed_with_a_profile_changes_tempo_not_pitch(settings, cloned):
    _, _, _, enrolled = cloned
    text = "Speed changes the tempo of a cloned voice."

    async def speak(client):
        return (await client.synthesize_with_profile(text, enrolled.engine_voice, enrolled.profile_json),
                await client.synthesize_with_profile(text, enrolled.engine_voice, enrolled.profile_json, speed=1.5))

    normal, fast = run(settings, speak)
    assert fast.duration_s / normal.duration_s == pytest.approx(1 / 1.5, abs=0.03)
    assert voice_audio.median_f0(fast.samples, RATE) == pytest.approx(voice_audio.median_f0(normal.samples, RATE),
                                                                      rel=0.06)


def test_an_impossible_duration_is_refused(settings):
    with pytest.raises(InferenceError) as exc:
        run(settings, lambda client: client.synthesize_with_profile("Hi.", "slt", None, duration_s=60.0))
    assert exc.value.code == "invalid_duration" and not exc.value.retryable
    assert math.isfinite(60.0)
