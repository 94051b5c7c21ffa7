"""Kokoro-82M through the real Triton `synthesize` model: every language, LANGUAGE and STYLE inputs, speed and
duration (length changes, pitch does not), refusals. Short texts: Kokoro costs ~0.3-1 s of CPU per second of
speech on this machine.
"""
from __future__ import annotations

import numpy as np
import pytest

from inference_client import InferenceError
from voicekit import kokoro, pitch

from .conftest import run_with_client

pytestmark = pytest.mark.integration

RATE = 24000


def run(settings, use):
    return run_with_client(settings, use, timeout_s=120.0)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(samples, np.float64) ** 2)))


def median_f0(samples: np.ndarray, rate: int) -> float:
    stats = pitch.stats(pitch.track(np.asarray(samples, np.float32), rate))
    assert stats is not None, "no voiced speech"
    return stats.median_hz


@pytest.mark.parametrize("voice, text", [
    ("af_heart", "Hello, I have 3 cats."),
    ("bm_george", "Good morning."),
    ("ef_dora", "Hola, tengo 3 gatos."),
    ("ff_siwis", "Bonjour, j'ai 3 chats."),
    ("if_sara", "Ciao, ho 3 gatti."),
    ("pf_dora", "Olá, tenho 3 gatos."),
    ("hf_alpha", "नमस्ते, मेरे पास 3 बिल्लियाँ हैं।"),
    ("zf_xiaobei", "你好，我有3只猫。"),
    ("jf_alpha", "こんにちは、猫が3匹います。"),
])
def test_each_language_is_spoken_by_its_stock_voice(settings, voice, text):
    audio = run(settings, lambda client: client.synthesize(text, voice))
    assert audio.sample_rate == RATE
    assert 0.6 <= audio.duration_s <= 8.0, audio.duration_s
    assert rms(audio.samples) > 0.02, "audio is (nearly) silent"
    assert float(np.max(np.abs(audio.samples))) <= 1.0
    median_f0(audio.samples, RATE)  # voiced speech, not noise


def test_info_lists_the_kokoro_voices_with_language_and_sex(settings):
    info = run(settings, lambda client: client.capabilities())
    voices = {v["name"]: v for v in info["voices"]}
    stock = [v for v in voices.values() if v.get("engine") == "kokoro"]
    assert len(stock) == 54
    assert voices["af_heart"]["language"] == "en-us" and voices["af_heart"]["gender"] == "female"
    assert voices["zm_yunxi"]["language"] == "zh" and voices["zm_yunxi"]["gender"] == "male"
    assert {"slt", "awb", "rms", "kal16"} <= set(voices)  # flite stays as the fallback


def test_language_input_overrides_the_voice_language(settings):
    text = "Hola, ¿cómo estás?"

    async def both(client):
        return (await client.synthesize(text, "af_heart", language="es"),
                await client.synthesize(text, "af_heart"))

    spanish, english = run(settings, both)
    assert spanish.sample_rate == english.sample_rate == RATE
    n = min(len(spanish.samples), len(english.samples))
    assert not np.allclose(spanish.samples[:n], english.samples[:n], atol=1e-3)  # read with other phonemes


def test_chinese_text_to_an_english_voice_is_read_not_dropped(settings):
    audio = run(settings, lambda client: client.synthesize("你好，世界。", "af_heart"))
    assert audio.duration_s > 0.6 and rms(audio.samples) > 0.02


def test_a_style_pack_speaks_like_the_voice_it_came_from(settings):
    pack = np.fromfile(kokoro.assets_dir() / "voices" / "am_adam.bin", dtype="<f4").reshape(510, 256)
    text = "The style travels as a tensor."

    async def both(client):
        return (await client.synthesize_with_profile(text, "af_heart", None, style=pack),
                await client.synthesize(text, "am_adam"), await client.synthesize(text, "af_heart"))

    styled, adam, heart = run(settings, both)
    assert len(styled.samples) == len(adam.samples)
    assert np.corrcoef(styled.samples, adam.samples)[0, 1] > 0.99
    assert median_f0(styled.samples, RATE) < 0.8 * median_f0(heart.samples, RATE)  # a male voice, not af_heart


def aligned_f0_ratio(reference: np.ndarray, stretched: np.ndarray) -> float:
    """Median of F0(stretched) / F0(reference) over frames voiced in both, the frames mapped through the uniform
    time-stretch. (The plain median F0 of the whole clip moves with a stretch although the pitch does not: short
    voiced stretches at phrase ends fall below the tracker's voicing threshold when compressed.)"""
    edge = int(kokoro.EDGE_S * RATE)  # the silent edges are not stretched
    ref = pitch.track(np.asarray(reference[edge:-edge], np.float32), RATE).f0
    out = pitch.track(np.asarray(stretched[edge:-edge], np.float32), RATE).f0
    index = np.clip(np.round(np.arange(len(out)) * len(ref) / len(out)).astype(int), 0, len(ref) - 1)
    both = (out > 0) & (ref[index] > 0)
    assert both.sum() >= 10, "too few voiced frames to compare"
    return float(np.median(out[both] / ref[index][both]))


@pytest.mark.parametrize("speed", [1.5, 0.6])
def test_speed_changes_the_length_not_the_pitch(settings, speed):
    """Within 0.5-2 the speed goes to the model's own speed input (its durations; its prosody may move a little)."""
    text = "Speed changes the tempo of this sentence."

    async def both(client):
        return await client.synthesize(text, "am_michael"), await client.synthesize(text, "am_michael", speed)

    normal, changed = run(settings, both)
    assert changed.duration_s == pytest.approx(normal.duration_s / speed, rel=0.2)
    assert median_f0(changed.samples, RATE) == pytest.approx(median_f0(normal.samples, RATE), rel=0.12)


def test_speeds_beyond_the_model_are_finished_by_wsola_with_the_pitch_kept(settings):
    text = "Speed changes the tempo of this sentence."

    async def both(client):
        return (await client.synthesize(text, "am_michael", 2.0), await client.synthesize(text, "am_michael", 3.0))

    model_fastest, faster = run(settings, both)  # 3.0 = the model at 2.0, then 2/3 of that length by WSOLA
    speech = 2 * kokoro.EDGE_S  # the silent edges keep their length
    # (each sentence is trimmed of its silence after the stretch, so a few ms move: 6 %)
    assert faster.duration_s - speech == pytest.approx((model_fastest.duration_s - speech) * 2 / 3, rel=0.06)
    assert aligned_f0_ratio(model_fastest.samples, faster.samples) == pytest.approx(1.0, abs=0.03)


def test_duration_is_fitted_exactly_with_the_pitch_kept(settings):
    text = "This sentence must last exactly four seconds."

    async def both(client):
        return (await client.synthesize(text, "af_bella"),
                await client.synthesize_with_profile(text, "af_bella", None, duration_s=4.0))

    natural, fitted = run(settings, both)
    assert len(fitted.samples) == 4 * RATE
    assert abs(natural.duration_s - 4.0) > 0.5  # the fit really changed the length
    assert aligned_f0_ratio(natural.samples, fitted.samples) == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("call, code", [
    (lambda c: c.synthesize("Guten Tag", "af_heart", language="de"), "unsupported_language"),
    (lambda c: c.synthesize("Hello", "af_nobody"), "unknown_voice"),
    (lambda c: c.synthesize_with_profile("Hello", "af_heart", None, style=np.zeros((3, 256), np.float32)),
     "invalid_style"),
    (lambda c: c.synthesize("...", "af_heart"), "invalid_text"),
    (lambda c: c.synthesize_with_profile("Hi.", "af_heart", None, duration_s=60.0), "invalid_duration"),
])
def test_bad_requests_are_clear_non_retryable_errors(settings, call, code):
    with pytest.raises(InferenceError) as exc:
        run(settings, call)
    assert exc.value.code == code and not exc.value.retryable and exc.value.reason


@pytest.mark.parametrize("voice_id, text", [("sys_zf_xiaobei", "你好，世界。"), ("sys_af_heart", "Hello there.")])
def test_a_kokoro_system_voice_speaks_through_the_public_api(base_url, demo_account, voice_id, text):
    """POST /api/v1/tts with a Kokoro system voice → the job completes with 24 kHz speech (Chinese text, which the
    flite voices could not say, included)."""
    import io

    import requests
    import soundfile

    from .conftest import wait_for

    headers = {"Authorization": f"Bearer {demo_account.api_key}", "Content-Type": "application/json"}
    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers,
                         json={"text": text, "voiceId": voice_id, "format": "wav"}, timeout=30)
    assert resp.status_code == 200, resp.text
    speech_id = resp.json()["speechId"]

    def finished():
        body = requests.get(f"{base_url}/api/v1/tts/{speech_id}", headers=headers, timeout=5).json()
        return body["speech"] if body["speech"]["status"] in ("COMPLETED", "FAILED") else None

    speech = wait_for(finished, 120, f"speech {speech_id} to finish", interval_s=0.25)
    assert speech["status"] == "COMPLETED", speech
    samples, rate = soundfile.read(io.BytesIO(requests.get(speech["audioUrl"], timeout=10).content))
    assert rate == RATE and 0.6 < len(samples) / rate < 6.0
    assert float(np.abs(samples).max()) > 0.05, "audio is silent"
