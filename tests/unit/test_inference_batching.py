"""Dynamic batching without a Triton server: the batch-aware `speaker_encoder` execute() and the client's shapes.

- `triton_models/speaker_encoder/1/model.py` is loaded with a stand-in for `triton_python_backend_utils` (which only
  exists inside Triton's stub process); several requests in one execute() give the same embeddings as one request
  at a time (`SpeakerEncoder.embed`), and a bad request among them fails alone.
- `InferenceClient` sends a leading batch dimension exactly to models configured with max_batch_size > 0, asks
  each model's configuration once, and asks again once when the server refuses the shapes (reconfigured).
"""
from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
import types
import wave
from pathlib import Path

import numpy as np
import pytest

from inference_client import Audio, InferenceClient, InferenceError
from inference_client import client as client_module

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "ge2e"


# ---------------------------------------------------------------------------------- a stand-in for pb_utils


class _Tensor:
    def __init__(self, name, array):
        self._name, self._array = name, np.asarray(array)

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array


class _TritonError:
    INVALID_ARG, INTERNAL = "INVALID_ARG", "INTERNAL"

    def __init__(self, message, code=None):
        self._message, self.code = message, code

    def message(self):
        return self._message


class _Response:
    def __init__(self, output_tensors=None, error=None):
        self.output_tensors, self.error = output_tensors or [], error


class _Request:
    def __init__(self, **inputs):
        self.inputs = {name: _Tensor(name, value) for name, value in inputs.items()}


def _fake_pb_utils() -> types.ModuleType:
    module = types.ModuleType("triton_python_backend_utils")
    module.Tensor = _Tensor
    module.TritonError = _TritonError
    module.InferenceResponse = _Response
    module.get_input_tensor_by_name = lambda request, name: request.inputs.get(name)
    module.Logger = types.SimpleNamespace(log_error=lambda message: None, log_info=lambda message: None)
    return module


@pytest.fixture()
def model_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "triton_python_backend_utils", _fake_pb_utils())
    spec = importlib.util.spec_from_file_location("speaker_encoder_model",
                                                  REPO / "triton_models" / "speaker_encoder" / "1" / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(module, max_batch_size: int):
    model = module.TritonPythonModel()
    model.initialize({"model_config": json.dumps({"max_batch_size": max_batch_size})})
    return model


def _clip(name: str) -> tuple[np.ndarray, int]:
    with wave.open(str(DATA / name), "rb") as handle:
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768
        return pcm, handle.getframerate()


CLIPS = sorted(p.name for p in DATA.glob("*.wav"))


def test_a_batch_of_requests_gives_the_embeddings_of_one_request_at_a_time(model_module):
    model = _model(model_module, 8)
    clips = [_clip(name) for name in CLIPS]
    requests = [_Request(AUDIO=samples[None, :], SAMPLE_RATE=np.array([[rate]], np.int32)) for samples, rate in clips]
    responses = model.execute(requests)
    assert len(responses) == len(requests)
    for (samples, rate), response in zip(clips, responses, strict=True):
        assert response.error is None
        (tensor,) = response.output_tensors
        assert tensor.name() == "EMBEDDING" and tensor.as_numpy().shape == (1, 256)  # the batch dimension
        expected = model.encoder.embed(samples, rate)
        np.testing.assert_allclose(tensor.as_numpy()[0], expected, atol=2e-6)


def test_without_batching_the_output_has_no_batch_dimension(model_module):
    model = _model(model_module, 0)
    samples, rate = _clip(CLIPS[0])
    (response,) = model.execute([_Request(AUDIO=samples, SAMPLE_RATE=np.array([rate], np.int32))])
    assert response.error is None and response.output_tensors[0].as_numpy().shape == (256,)


def test_a_bad_request_fails_alone_and_the_others_are_answered(model_module):
    model = _model(model_module, 8)
    samples, rate = _clip(CLIPS[1])
    good = _Request(AUDIO=samples[None, :], SAMPLE_RATE=np.array([[rate]], np.int32))
    silent = _Request(AUDIO=np.zeros((1, 16000), np.float32), SAMPLE_RATE=np.array([[16000]], np.int32))
    no_rate = _Request(AUDIO=samples[None, :])
    two_rows = _Request(AUDIO=np.stack([samples, samples]), SAMPLE_RATE=np.array([[rate]], np.int32))
    responses = model.execute([silent, good, no_rate, two_rows])
    assert responses[1].error is None
    np.testing.assert_allclose(responses[1].output_tensors[0].as_numpy()[0], model.encoder.embed(samples, rate),
                               atol=2e-6)
    assert responses[0].error.message().startswith("[voicekit:invalid_audio]")
    assert responses[0].error.code == _TritonError.INVALID_ARG
    assert responses[2].error.message().startswith("[voicekit:invalid_request]")
    assert responses[3].error.message().startswith("[voicekit:invalid_request]")


# ---------------------------------------------------------------------------------- the client's shapes


class _Result:
    def __init__(self, outputs):
        self.outputs = outputs

    def as_numpy(self, name):
        return self.outputs.get(name)


class _FakeGrpc:
    """Records the shapes of each infer call; answers get_model_config from ``max_batch_size``."""

    def __init__(self, max_batch_size: int, refuse_first: bool = False):
        self.max_batch_size = max_batch_size
        self.config_calls = 0
        self.shapes: list[dict[str, list[int]]] = []
        self.refuse_first = refuse_first

    async def get_model_config(self, model, as_json=False, client_timeout=None):
        self.config_calls += 1
        config = {"name": model}
        if self.max_batch_size:  # proto3 JSON leaves out zero values
            config["max_batch_size"] = self.max_batch_size
        return {"config": config}

    async def infer(self, model, inputs, outputs=None, client_timeout=None):
        self.shapes.append({tensor.name(): list(tensor.shape()) for tensor in inputs})
        if self.refuse_first:
            self.refuse_first = False
            self.max_batch_size = 8  # "the server was reconfigured"
            raise client_module.InferenceServerException(
                msg=f"[request id: <id_unknown>] unexpected shape for input 'AUDIO' for model '{model}'. "
                    f"Expected [-1,-1], got [16000]", status="StatusCode.INVALID_ARGUMENT")
        batched = len(next(iter(self.shapes[-1].values()))) == 2
        embedding = np.ones(256, np.float32) / 16
        return _Result({"EMBEDDING": embedding[None, :] if batched else embedding})

    async def close(self):
        pass


def _embed_with(fake: _FakeGrpc, calls: int = 2) -> list[np.ndarray]:
    client = InferenceClient("127.0.0.1:1", timeout_s=1, max_retries=0)
    client._grpc = lambda: fake  # the transport only; everything above it is the real client

    async def run():
        return [await client.embed(Audio(np.full(16000, 0.1, np.float32), 16000)) for _ in range(calls)]

    return asyncio.run(run())


@pytest.mark.parametrize("max_batch_size, audio_shape, rate_shape", [(0, [16000], [1]), (8, [1, 16000], [1, 1])])
def test_the_client_adds_a_batch_dimension_only_for_batching_models(max_batch_size, audio_shape, rate_shape):
    fake = _FakeGrpc(max_batch_size)
    embeddings = _embed_with(fake)
    assert all(e.shape == (256,) for e in embeddings)
    assert fake.shapes == [{"AUDIO": audio_shape, "SAMPLE_RATE": rate_shape}] * 2
    assert fake.config_calls == 1  # asked once, then remembered


def test_refused_shapes_make_the_client_read_the_configuration_again_once():
    fake = _FakeGrpc(0, refuse_first=True)
    (embedding,) = _embed_with(fake, calls=1)
    assert embedding.shape == (256,)
    assert fake.shapes == [{"AUDIO": [16000], "SAMPLE_RATE": [1]}, {"AUDIO": [1, 16000], "SAMPLE_RATE": [1, 1]}]
    assert fake.config_calls == 2


def test_a_model_error_about_shapes_is_not_retried_forever():
    class AlwaysRefuses(_FakeGrpc):
        async def infer(self, model, inputs, outputs=None, client_timeout=None):
            self.shapes.append({tensor.name(): list(tensor.shape()) for tensor in inputs})
            raise client_module.InferenceServerException(
                msg="unexpected shape for input 'AUDIO'", status="StatusCode.INVALID_ARGUMENT")

    fake = AlwaysRefuses(0)
    with pytest.raises(InferenceError) as error:
        _embed_with(fake, calls=1)
    assert error.value.code == "invalid_request" and not error.value.retryable
    assert len(fake.shapes) == 2 and fake.config_calls == 2


def test_channel_options_keep_tritonclients_defaults_and_cap_the_reconnect_backoff():
    options = dict(client_module.channel_options())
    assert options["grpc.max_send_message_length"] == options["grpc.max_receive_message_length"] == 2 ** 31 - 1
    assert "grpc.keepalive_time_ms" in options
    assert options["grpc.max_reconnect_backoff_ms"] <= 1000
    assert "grpc.min_reconnect_backoff_ms" not in options  # it is also the connect timeout; see channel_options


def test_enroll_gets_a_longer_deadline_than_the_other_calls():
    class Records(_FakeGrpc):
        timeouts: list = []

        async def infer(self, model, inputs, outputs=None, client_timeout=None):
            self.timeouts.append((model, client_timeout))
            return _Result({"PROFILE": np.array([b'{"version": 1}'], dtype=object),
                            "ENGINE_VOICE": np.array([b"slt"], dtype=object),
                            "DURATION": np.array([5.0], np.float32),
                            "EMBEDDING": np.ones(256, np.float32) / 16})

    fake = Records(0)
    client = InferenceClient("127.0.0.1:1", timeout_s=60, max_retries=0)
    client._grpc = lambda: fake

    async def run():
        await client.enroll(b"RIFF....WAVE")
        await client.embed(Audio(np.full(16000, 0.1, np.float32), 16000))

    asyncio.run(run())
    assert fake.timeouts == [("enroll", client_module.ENROLL_TIMEOUT_S), ("speaker_encoder", 60)]
    assert InferenceClient("x", timeout_s=600).enroll_timeout_s == 600
    assert InferenceClient("x", enroll_timeout_s=30).enroll_timeout_s == 30
