"""The GPU seam: another implementation of a model, behind the same name and tensors, needs no change outside the
model repository.

The test writes, in a temporary directory, a model repository whose `speaker_encoder` is a *different* model - a
tiny numpy "network" (log power spectrum → random projection → ReLU → L2 norm) whose weights are a file the test
writes next to model.py (`weights.npy`, loaded in initialize(), as a neural encoder would load an ONNX or
TorchScript file) - with the same tensor contract (AUDIO FP32 [-1], SAMPLE_RATE INT32 [1] → EMBEDDING FP32 [256]),
once without and once with dynamic batching. A private Triton serves it (the stack's installed tritonserver and
models' venv, free ports, its own process group, always stopped); the *unchanged* InferenceClient gets 256-d
L2-normalised embeddings from it - exactly the ones the test's own numpy code computes from those weights - that
differ from the default GE2E model's (served the same way from a copy of triton_models/). Its errors map like the
default's. ~20 s.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from bench.private_triton import PrivateTriton, copy_model_repository
from inference_client import Audio, InferenceClient, InferenceError

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "ge2e"
CLIPS = sorted(p.name for p in DATA.glob("*.wav"))  # 16 kHz flite voices and a 22.05 kHz espeak-ng voice


def tiny_embed(samples: np.ndarray, rate: int, projection: np.ndarray) -> np.ndarray:
    """The replacement encoder: 16 kHz (linear interpolation), 25 ms Hann frames every 10 ms, mean log power
    spectrum (201 bins) minus its mean, random projection to 256, ReLU, L2 norm."""
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    if samples.size == 0 or not np.isfinite(samples).all() or not np.any(samples):
        raise ValueError("audio is empty, silent or not finite")
    if not 8000 <= rate <= 192000:
        raise ValueError(f"sample rate must be 8000-192000 Hz, got {rate}")
    if rate != 16000:
        n_out = int(round(samples.size * 16000 / rate))
        samples = np.interp(np.arange(n_out) * rate / 16000, np.arange(samples.size), samples)
    samples = np.pad(samples, (0, max(0, 400 - samples.size)))
    n_frames = 1 + (samples.size - 400) // 160
    frames = np.stack([samples[i * 160:i * 160 + 400] for i in range(n_frames)]) * np.hanning(400)
    features = np.log(np.mean(np.abs(np.fft.rfft(frames, axis=1)) ** 2, axis=0) + 1e-10)
    raw = np.maximum((features - features.mean()) @ projection, 0.0)
    return (raw / max(float(np.linalg.norm(raw)), 1e-12)).astype(np.float32)


MODEL_PY = '''"""`speaker_encoder`, replaced: a tiny numpy model whose weights are weights.npy next to this file."""
import json
from pathlib import Path

import numpy as np
import triton_python_backend_utils as pb_utils

{tiny_embed}

class TritonPythonModel:
    def initialize(self, args):
        self.batching = int(json.loads(args["model_config"]).get("max_batch_size", 0)) > 0
        self.projection = np.load(Path(__file__).resolve().parent / "weights.npy")  # the operator's weights file
        self.device = args.get("model_instance_kind", "CPU")  # "GPU" with instance_group KIND_GPU

    def execute(self, requests):
        responses = []
        for request in requests:
            try:
                audio = pb_utils.get_input_tensor_by_name(request, "AUDIO").as_numpy()
                rate = int(pb_utils.get_input_tensor_by_name(request, "SAMPLE_RATE").as_numpy().reshape(-1)[0])
                embedding = tiny_embed(audio, rate, self.projection)
                out = embedding.reshape(1, -1) if self.batching else embedding
                responses.append(pb_utils.InferenceResponse(output_tensors=[pb_utils.Tensor("EMBEDDING", out)]))
            except ValueError as exc:  # the repository's error convention: [voicekit:<code>] <message>
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(
                    f"[voicekit:invalid_audio] {{exc}}", pb_utils.TritonError.INVALID_ARG)))
        return responses
'''

CONFIG = '''name: "speaker_encoder"
backend: "python"
max_batch_size: {max_batch_size}
input [
  {{ name: "AUDIO"       data_type: TYPE_FP32   dims: [ -1 ] {ragged}}},
  {{ name: "SAMPLE_RATE" data_type: TYPE_INT32  dims: [ 1 ] }}
]
output [
  {{ name: "EMBEDDING"   data_type: TYPE_FP32   dims: [ 256 ] }}
]
{batching}
# On a GPU machine: kind: KIND_GPU (the Python backend then tells initialize() model_instance_kind "GPU" and
# model_instance_device_id; an onnxruntime/pytorch backend model runs there by itself).
instance_group [ {{ kind: KIND_CPU  count: 1 }} ]
'''


def write_seam_repository(root: Path, max_batch_size: int) -> tuple[Path, np.ndarray]:
    """A model repository holding only the replacement `speaker_encoder`; returns it and the weights."""
    model = root / "speaker_encoder"
    (model / "1").mkdir(parents=True)
    projection = np.random.default_rng(20251121).standard_normal((201, 256)).astype(np.float32) / np.sqrt(201)
    np.save(model / "1" / "weights.npy", projection)
    source = textwrap.dedent(inspect.getsource(tiny_embed))
    (model / "1" / "model.py").write_text(MODEL_PY.format(tiny_embed=source))
    batched = max_batch_size > 0
    (model / "config.pbtxt").write_text(CONFIG.format(
        max_batch_size=max_batch_size, ragged="allow_ragged_batch: true " if batched else "",
        batching="dynamic_batching { max_queue_delay_microseconds: 1000 }" if batched else ""))
    return root, projection


def read_clip(name: str) -> Audio:
    with wave.open(str(DATA / name), "rb") as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return Audio(samples=pcm, sample_rate=handle.getframerate())


def embed_all(url: str, clips: list[Audio]) -> list[np.ndarray]:
    async def main():
        async with InferenceClient(url, timeout_s=30) as client:
            return list(await asyncio.gather(*(client.embed(clip) for clip in clips)))

    return asyncio.run(main())


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def clips() -> list[Audio]:
    return [read_clip(name) for name in CLIPS]


@pytest.fixture(scope="module")
def default_embeddings(clips, tmp_path_factory) -> list[np.ndarray]:
    """The shipped GE2E `speaker_encoder`, served from a copy of triton_models/ by a private Triton."""
    repo = copy_model_repository(tmp_path_factory.mktemp("default") / "models", ["speaker_encoder"])
    with PrivateTriton(repo) as server:
        return embed_all(server.grpc_url, clips)


@pytest.mark.parametrize("max_batch_size", [0, 4], ids=["no-batching", "dynamic-batching"])
def test_a_replacement_speaker_encoder_serves_the_unchanged_client(max_batch_size, clips, default_embeddings,
                                                                   tmp_path):
    repo, projection = write_seam_repository(tmp_path / "models", max_batch_size)
    assert sorted(p.name for p in repo.iterdir()) == ["speaker_encoder"]  # no voicekit: nothing shared
    server = PrivateTriton(repo)
    with server:
        pid = server.proc.pid
        embeddings = embed_all(server.grpc_url, clips)

        async def bad_call():
            async with InferenceClient(server.grpc_url, timeout_s=30) as client:
                await client.embed(Audio(np.zeros(8000, np.float32), 16000))

        with pytest.raises(InferenceError) as error:
            asyncio.run(bad_call())
    assert gone(pid), "the private Triton must be stopped"

    assert error.value.code == "invalid_audio" and not error.value.retryable
    for clip, embedding, default in zip(clips, embeddings, default_embeddings, strict=True):
        assert embedding.shape == (256,) and embedding.dtype == np.float32
        assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5 and float(embedding.min()) >= 0.0
        # It is the test's model with the test's weights...
        np.testing.assert_allclose(embedding, tiny_embed(clip.samples, clip.sample_rate, projection), atol=1e-5)
        # ...and not the default GE2E encoder (same contract: 256-d, unit norm).
        assert default.shape == (256,) and abs(float(np.linalg.norm(default)) - 1.0) < 1e-5
        assert float(embedding @ default) < 0.95 and float(np.max(np.abs(embedding - default))) > 0.05
