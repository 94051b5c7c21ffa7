"""InferenceClient against the real Triton server and the models in triton_models/.

The address comes from service_config (TRITON_GRPC_PORT / TRITON_GRPC_URL); the stack's Triton is started if it
is not already healthy on the configured ports.
"""
from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
import soundfile

from inference_client import FORMATS, Audio, InferenceError

from .conftest import run_with_client

pytestmark = pytest.mark.integration

HELLO = "Hello world, this is a test."


def run(settings, use):
    return run_with_client(settings, use)


@pytest.fixture(scope="module")
def hello(settings) -> Audio:
    return run(settings, lambda client: client.synthesize(HELLO, "slt"))


def test_server_and_models_are_ready(settings):
    assert run(settings, lambda client: client.is_ready()) is True
    info = run(settings, lambda client: client.capabilities())
    assert {"slt", "awb", "rms", "kal16"} <= {voice["name"] for voice in info["voices"]}
    assert sorted(info["formats"]) == sorted(FORMATS)


def test_synthesize_speaks_a_sentence(hello):
    assert hello.sample_rate == 16000
    assert hello.samples.dtype == np.float32 and hello.samples.ndim == 1
    assert 1.0 <= hello.duration_s <= 4.0
    assert float(np.sqrt(np.mean(hello.samples ** 2))) > 0.02, "audio is (nearly) silent"
    assert float(np.max(np.abs(hello.samples))) <= 1.0


@pytest.mark.parametrize("fmt, mime", [
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("opus", "audio/ogg; codecs=opus"),
    ("pcm", "audio/pcm; rate=16000; encoding=s16le; channels=1"),
])
def test_encode_gives_decodable_audio_of_the_same_duration(settings, hello, fmt, mime):
    encoded = run(settings, lambda client: client.encode(hello, fmt))
    assert encoded.format == fmt and encoded.mime_type == mime
    assert encoded.duration_s == pytest.approx(hello.duration_s, abs=1e-3)
    if fmt == "pcm":
        samples, rate = np.frombuffer(encoded.data, dtype="<i2").astype(np.float32) / 32768, hello.sample_rate
    else:
        samples, rate = soundfile.read(io.BytesIO(encoded.data), dtype="float32")
    assert len(samples) / rate == pytest.approx(hello.duration_s, rel=0.05)
    assert float(np.sqrt(np.mean(samples ** 2))) > 0.02


def test_unknown_voice_is_a_clear_non_retryable_error(settings):
    with pytest.raises(InferenceError) as error:
        run(settings, lambda client: client.synthesize(HELLO, "no_such_voice"))
    assert error.value.code == "unknown_voice" and not error.value.retryable
    assert "no_such_voice" in error.value.reason and "slt" in error.value.reason


@pytest.mark.parametrize("text, speed, code", [("", 1.0, "invalid_text"), (HELLO, 10.0, "invalid_speed")])
def test_bad_input_is_rejected_by_the_model(settings, text, speed, code):
    with pytest.raises(InferenceError) as error:
        run(settings, lambda client: client.synthesize(text, "slt", speed))
    assert error.value.code == code and not error.value.retryable


def test_bad_audio_is_rejected_by_the_encoder(settings):
    with pytest.raises(InferenceError) as error:
        run(settings, lambda client: client.encode(Audio(np.zeros(0, np.float32), 16000), "wav"))
    assert error.value.code == "invalid_audio" and not error.value.retryable


def test_concurrent_requests_never_mix_their_audio(settings):
    texts = [f"This is request number {n}, spoken on its own." for n in range(1, 5)] + ["Short one."]

    async def together(client):
        return await asyncio.gather(*(client.synthesize(text, "awb") for text in texts))

    async def one_by_one(client):
        return [await client.synthesize(text, "awb") for text in texts]

    for concurrent, alone in zip(run(settings, together), run(settings, one_by_one), strict=True):
        assert np.array_equal(concurrent.samples, alone.samples)
