"""The `speaker_encoder` model through Triton, via InferenceClient.embed.

Parity with the original Resemblyzer on tests/data/ge2e/ (the same reference as the unit test, but computed in the
models' environment: numpy 1.x, the Triton venv's webrtcvad and soxr), speaker discrimination on voices the
`synthesize` model speaks, and the error contract.
"""
from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from inference_client import Audio, InferenceError

from .conftest import run_with_client

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "ge2e"
REFERENCE = json.loads((DATA / "embeddings.json").read_text())["embeddings"]


def run(settings, use):
    return run_with_client(settings, use)


def read_clip(name: str) -> Audio:
    with wave.open(str(DATA / name), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getnchannels() == 1
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return Audio(samples=samples, sample_rate=wav.getframerate())


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_embedding_through_triton_matches_the_original_resemblyzer(settings, name):
    embedding = run(settings, lambda client: client.embed(read_clip(name)))
    assert embedding.shape == (256,) and embedding.dtype == np.float32
    assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5
    assert cosine(embedding, REFERENCE[name]) > 0.999


def test_same_voice_is_closer_than_another_voice(settings):
    async def use(client):
        texts = ["The quick brown fox jumps over the lazy dog near the river bank.",
                 "We will meet at nine in the morning to discuss the budget for next year."]
        audios = {(voice, i): await client.synthesize(text, voice)
                  for voice in ("slt", "rms") for i, text in enumerate(texts)}
        return {key: await client.embed(audio) for key, audio in audios.items()}

    e = run(settings, use)
    same = [cosine(e["slt", 0], e["slt", 1]), cosine(e["rms", 0], e["rms", 1])]
    different = [cosine(e["slt", i], e["rms", j]) for i in range(2) for j in range(2)]
    assert min(same) > 0.8, same
    assert min(same) > max(different) + 0.1, (same, different)


def test_concurrent_requests_get_their_own_embeddings(settings):
    names = sorted(REFERENCE)

    async def use(client):
        return await asyncio.gather(*(client.embed(read_clip(name)) for name in names * 2))

    results = run(settings, use)
    for name, embedding in zip(names * 2, results, strict=True):
        assert cosine(embedding, REFERENCE[name]) > 0.999, name


@pytest.mark.parametrize("samples, rate, code", [
    (np.zeros(0, dtype=np.float32), 16000, "invalid_audio"),
    (np.zeros(16000, dtype=np.float32), 16000, "invalid_audio"),       # silent
    (np.full(16000, 0.1, dtype=np.float32), 1000, "invalid_audio"),    # sample rate out of range
    (np.full(100, np.nan, dtype=np.float32), 16000, "invalid_audio"),
])
def test_unusable_audio_is_a_clear_non_retryable_error(settings, samples, rate, code):
    with pytest.raises(InferenceError) as error:
        run(settings, lambda client: client.embed(Audio(samples=samples, sample_rate=rate)))
    assert error.value.code == code and not error.value.retryable
    assert error.value.status == "StatusCode.INVALID_ARGUMENT"
