"""voicekit.speaker_encoder (numpy GE2E d-vectors) and voicekit.ge2e_weights (legacy torch checkpoints), no Triton.

Parity: the four clips of tests/data/ge2e/ against the embeddings the original Resemblyzer 0.1.4 (torch) computed.
Needs the weights: ``pip install --no-deps -r triton_models/requirements-nodeps.txt`` (resemblyzer==0.1.4 without
its dependencies) and ``webrtcvad-wheels`` + ``soxr`` (triton_models/requirements.txt) in this Python.
"""
from __future__ import annotations

import json
import pickle
import struct
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from voicekit import pcm
from voicekit import speaker_encoder as se
from voicekit.errors import VoicekitError
from voicekit.ge2e_weights import MAGIC_NUMBER, CheckpointError, load_legacy_checkpoint

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "ge2e"
REFERENCE = json.loads((DATA / "embeddings.json").read_text())["embeddings"]
CLIPS = sorted(REFERENCE)


def read_clip(name: str) -> tuple[np.ndarray, int]:
    return pcm.read_wav(str(DATA / name))


@pytest.fixture(scope="module")
def encoder() -> se.SpeakerEncoder:
    try:
        return se.SpeakerEncoder()
    except VoicekitError as exc:
        problem = exc.message
    pytest.fail(f"{problem}\n(for the project venv: .venv/bin/python -m pip install --no-deps "
                f"-r triton_models/requirements-nodeps.txt)", pytrace=False)


@pytest.fixture(scope="module")
def needs_audio_deps():
    missing = []
    for module, package in (("webrtcvad", "webrtcvad-wheels==2.0.14.post1"), ("soxr", "soxr==1.1.0")):
        try:
            __import__(module)
        except ImportError:
            missing.append(package)
    if missing:
        pytest.fail(f"missing in this Python: {' '.join(missing)} (pinned in triton_models/requirements.txt; "
                    f".venv/bin/python -m pip install {' '.join(missing)})", pytrace=False)


# ------------------------------------------------------------------------------------------------ parity


@pytest.mark.parametrize("name", CLIPS)
def test_embedding_matches_the_original_resemblyzer(encoder, needs_audio_deps, name):
    samples, rate = read_clip(name)
    embedding = encoder.embed(samples, rate)
    reference = np.array(REFERENCE[name], dtype=np.float32)
    assert embedding.shape == (256,) and embedding.dtype == np.float32
    assert se.cosine(embedding, reference) > 0.999
    # A faithful reimplementation, not merely a similar one: element-wise equal up to float32 rounding.
    assert np.abs(embedding - reference).max() < 1e-4


def test_embeddings_are_unit_length_and_non_negative(encoder, needs_audio_deps):
    for name in CLIPS:
        embedding = encoder.embed(*read_clip(name))
        assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5
        assert (embedding >= 0).all()


def test_different_speakers_are_far_apart(encoder, needs_audio_deps):
    embeddings = [encoder.embed(*read_clip(name)) for name in CLIPS]
    for i in range(len(embeddings)):
        for j in range(i + 1, len(embeddings)):
            assert se.cosine(embeddings[i], embeddings[j]) < 0.75, (CLIPS[i], CLIPS[j])


def test_same_clip_at_another_rate_or_level_gives_nearly_the_same_embedding(encoder, needs_audio_deps):
    samples, rate = read_clip("flite_slt_check.wav")
    reference = encoder.embed(samples, rate)
    upsampled = se.resample(samples, rate, 44100)
    assert se.cosine(encoder.embed(upsampled, 44100), reference) > 0.99


def test_loudness_matters_unless_fixed_level(encoder, needs_audio_deps):
    samples, rate = read_clip("flite_slt_check.wav")  # about -15 dBFS
    # Resemblyzer raises anything quieter than -30 dBFS to -30 dBFS: two quiet versions embed the same...
    quiet_a, quiet_b = encoder.embed(samples * 0.05, rate), encoder.embed(samples * 0.01, rate)
    assert se.cosine(quiet_a, quiet_b) > 0.9999
    # ...but louder input is left alone, and the network (power mel) is not level-invariant.
    assert se.cosine(encoder.embed(samples, rate), quiet_a) < 0.95
    # fixed_level brings every input to -30 dBFS: gain no longer matters.
    fixed = [encoder.embed(samples * gain, rate, fixed_level=True) for gain in (1.0, 0.3, 0.01)]
    assert all(se.cosine(fixed[0], other) > 0.9999 for other in fixed[1:])
    assert se.cosine(fixed[0], quiet_a) > 0.9999


def test_a_longer_recording_uses_several_batches_of_partials(encoder, needs_audio_deps, monkeypatch):
    samples, rate = read_clip("flite_rms_fox.wav")
    long = np.concatenate([samples] * 4)
    whole = encoder.embed(long, rate)
    monkeypatch.setattr(se, "PARTIAL_BATCH", 3)
    assert np.abs(encoder.embed(long, rate) - whole).max() < 1e-5


# ------------------------------------------------------------------------------------------------ input errors


@pytest.mark.parametrize("samples, rate, message", [
    (np.zeros(0, dtype=np.float32), 16000, "empty"),
    (np.zeros(16000, dtype=np.float32), 16000, "silent"),
    (np.zeros((2, 16000), dtype=np.float32), 16000, "mono"),
    (np.full(16000, np.nan, dtype=np.float32), 16000, "NaN"),
    (np.ones(16000, dtype=np.float32), 4000, "sample rate"),
    (np.ones(16000, dtype=np.float32), 500000, "sample rate"),
    (np.zeros(int(se.MAX_SECONDS * 8000) + 1, dtype=np.float32), 8000, "longer than"),
])
def test_unusable_audio_is_an_invalid_audio_error(encoder, samples, rate, message):
    with pytest.raises(VoicekitError) as error:
        encoder.embed(samples, rate)
    assert error.value.code == "invalid_audio" and error.value.invalid_input
    assert message in error.value.message


def test_audio_without_speech_is_rejected(encoder, needs_audio_deps):
    too_short = np.random.default_rng(0).normal(0, 0.1, 400).astype(np.float32)  # < one 30 ms VAD frame
    with pytest.raises(VoicekitError, match="no speech"):
        encoder.embed(too_short, 16000)


# ------------------------------------------------------------------------------------------------ building blocks


def resemblyzer_partial_slices(n_samples, rate=1.3, min_coverage=0.75):
    """VoiceEncoder.compute_partial_slices of resemblyzer 0.1.4 (mel slices only), as the oracle."""
    samples_per_frame = int((16000 * 10 / 1000))
    n_frames = int(np.ceil((n_samples + 1) / samples_per_frame))
    frame_step = int(np.round((16000 / rate) / samples_per_frame))
    mel_slices = []
    steps = max(1, n_frames - 160 + frame_step + 1)
    for i in range(0, steps, frame_step):
        mel_slices.append(slice(i, i + 160))
    last_wav_range = slice(mel_slices[-1].start * samples_per_frame, mel_slices[-1].stop * samples_per_frame)
    coverage = (n_samples - last_wav_range.start) / (last_wav_range.stop - last_wav_range.start)
    if coverage < min_coverage and len(mel_slices) > 1:
        mel_slices = mel_slices[:-1]
    return [(s.start, s.stop) for s in mel_slices]


def test_partial_slices_follow_resemblyzer():
    # 160-frame windows every 77 frames; the last one kept only if >= 75 % of it is real audio.
    assert se.partial_slices(0) == [(0, 160)]
    assert se.partial_slices(16000) == [(0, 160)]  # 1 s: one (padded) partial, however little it covers
    assert se.partial_slices(16000 * 5) == [(0, 160), (77, 237), (154, 314), (231, 391), (308, 468)]
    for n_samples in range(0, 16000 * 12, 331):
        assert se.partial_slices(n_samples) == resemblyzer_partial_slices(n_samples), n_samples


def test_speech_mask_smooths_and_dilates_like_scipy():
    rng = np.random.default_rng(1)
    for _ in range(50):
        flags = rng.random(rng.integers(1, 80)) < rng.random()
        # reference: moving average of 8 (zero-padded 3 before, 4 after), rounded half to even, then any() over ±3
        padded = np.concatenate([np.zeros(3), flags.astype(float), np.zeros(4)])
        smooth = np.round(np.array([padded[i:i + 8].sum() / 8 for i in range(len(flags))])).astype(bool)
        dilated = np.array([smooth[max(0, i - 3): i + 4].any() for i in range(len(flags))])
        assert (se.speech_mask(flags) == dilated).all()


def test_mel_filterbank_is_librosas_slaney_filterbank():
    bank = se.mel_filterbank()
    assert bank.shape == (40, 201) and bank.dtype == np.float32
    assert (bank >= 0).all()
    freqs = np.fft.rfftfreq(400, 1 / 16000)
    peaks = freqs[bank.argmax(axis=1)]
    assert np.all(np.diff(peaks) >= 0) and peaks[0] < 100 and peaks[-1] > 6500
    # Values librosa 0.11 gives (librosa.filters.mel(sr=16000, n_fft=400, n_mels=40)).
    assert bank[0, 1] == np.float32(0.0073902095)
    assert bank[39, 190] == np.float32(0.001215154)
    assert bank[20].argmax() == 44 and bank[20].max() == np.float32(0.0071919174)


def test_mel_spectrogram_frames_and_peak_band():
    rate = 16000
    t = np.arange(rate) / rate
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    mel = se.mel_spectrogram(tone)
    assert mel.shape == (1 + rate // 160, 40) and mel.dtype == np.float32
    band = int(np.argmax(mel[50]))
    centres = se._mel_to_hz(np.linspace(0, se._hz_to_mel(np.array([8000.0]))[0], 42))[1:-1]
    assert abs(centres[band] - 1000) < 150
    # Power spectrum: doubling the amplitude multiplies it by 4.
    assert np.allclose(se.mel_spectrogram(2 * tone), 4 * mel, rtol=1e-4, atol=1e-6)


def test_lstm_matches_a_plain_per_step_float64_implementation(encoder):
    rng = np.random.default_rng(2)
    mels = rng.random((2, 12, 40), dtype=np.float32)
    fast = se.network(mels, encoder.weights)

    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    expected = []
    for sequence in mels.astype(np.float64):
        x = sequence
        for w_ih_t, w_hh_t, bias in encoder.weights.lstm:
            h, c, out = np.zeros(256), np.zeros(256), []
            for step in x:
                i, f, g, o = np.split(step @ w_ih_t + h @ w_hh_t + bias, 4)  # torch's gate order
                c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
                h = sigmoid(o) * np.tanh(c)
                out.append(h)
            x = np.array(out)
        raw = np.maximum(h @ encoder.weights.linear_w + encoder.weights.linear_b, 0)
        expected.append(raw / np.linalg.norm(raw))
    assert np.abs(fast - np.array(expected)).max() < 1e-5


def test_volume_normalisation_only_increases():
    quiet = np.full(1000, 0.001, dtype=np.float32)
    loud = np.full(1000, 0.5, dtype=np.float32)
    normalised = se.normalize_volume(quiet)
    rms_db = 20 * np.log10(np.sqrt(np.mean(normalised.astype(np.float64) ** 2)))
    assert rms_db == pytest.approx(-30, abs=0.01)
    assert se.normalize_volume(loud) is loud


# ------------------------------------------------------------------------------------------------ weights


def test_resemblyzer_weights_are_found_without_importing_resemblyzer(encoder):
    path = se.find_weights()
    assert path.name == "pretrained.pt" and path.parent.name == "resemblyzer"
    assert "resemblyzer" not in sys.modules and "torch" not in sys.modules
    state = load_legacy_checkpoint(path, section="model_state")
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    assert all(v.dtype == np.float32 for v in state.values())


def test_missing_weights_name_the_install_command(monkeypatch):
    monkeypatch.delenv(se.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(se.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(VoicekitError) as error:
        se.find_weights()
    assert error.value.code == "encoder_unavailable" and not error.value.invalid_input
    assert "pip install --no-deps" in error.value.message and "resemblyzer==0.1.4" in error.value.message


def test_weights_path_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(se.WEIGHTS_ENV, str(tmp_path / "nope.pt"))
    with pytest.raises(VoicekitError, match="not found"):
        se.find_weights()


class _FakeStorage:
    def __init__(self, storage_type, values: np.ndarray):
        self.storage_type, self.values = storage_type, values


class _FakeTensor:
    def __init__(self, storage: _FakeStorage, offset: int, shape: tuple, stride: tuple):
        self.storage, self.offset, self.shape, self.stride = storage, offset, shape, stride

    def __reduce__(self):
        return (_FAKE_TORCH_UTILS._rebuild_tensor_v2,
                (self.storage, self.offset, self.shape, self.stride, False, OrderedDict()))


_FAKE_TORCH = types.ModuleType("torch")
_FAKE_TORCH_UTILS = types.ModuleType("torch._utils")


def _fake_rebuild(*args):  # pragma: no cover - only pickled by reference
    raise AssertionError


_fake_rebuild.__module__, _fake_rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
_FAKE_TORCH_UTILS._rebuild_tensor_v2 = _fake_rebuild
for _name in ("FloatStorage", "LongStorage"):
    _cls = type(_name, (), {"__module__": "torch"})
    setattr(_FAKE_TORCH, _name, _cls)


def write_legacy_checkpoint(path: Path, obj, storages: list[_FakeStorage]) -> None:
    """What torch.save(obj, f, _use_new_zipfile_serialization=False) writes, without torch."""
    keys = {id(s): str(1000 + i) for i, s in enumerate(storages)}

    class Pickler(pickle.Pickler):
        def persistent_id(self, value):
            if isinstance(value, _FakeStorage):
                return ("storage", value.storage_type, keys[id(value)], "cpu", value.values.size, None)
            return None

    with open(path, "wb") as f:
        for header in (MAGIC_NUMBER, 1001, {"protocol_version": 1001, "little_endian": True,
                                           "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, f, protocol=2)
        Pickler(f, protocol=2).dump(obj)
        pickle.dump([keys[id(s)] for s in storages], f, protocol=2)
        for storage in storages:
            f.write(struct.pack("<q", storage.values.size))
            f.write(storage.values.astype(storage.values.dtype.newbyteorder("<")).tobytes())


def test_legacy_checkpoint_reader_handles_offsets_strides_and_skips_unused_storages(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", _FAKE_TORCH)
    monkeypatch.setitem(sys.modules, "torch._utils", _FAKE_TORCH_UTILS)
    shared = _FakeStorage(_FAKE_TORCH.FloatStorage, np.arange(20, dtype=np.float32))
    steps = _FakeStorage(_FAKE_TORCH.LongStorage, np.array([7, 8, 9], dtype=np.int64))
    unused = _FakeStorage(_FAKE_TORCH.FloatStorage, np.full(5, -1, dtype=np.float32))
    checkpoint = {
        "step": 3,
        "model_state": OrderedDict([
            ("a", _FakeTensor(shared, 0, (2, 3), (3, 1))),
            ("a_t", _FakeTensor(shared, 0, (3, 2), (1, 3))),   # a transposed view of the same storage
            ("b", _FakeTensor(shared, 6, (4,), (1,))),
            ("steps", _FakeTensor(steps, 1, (2,), (1,))),
        ]),
        "optimizer_state": {"m": _FakeTensor(unused, 0, (5,), (1,))},
    }
    path = tmp_path / "tiny.pt"
    write_legacy_checkpoint(path, checkpoint, [shared, unused, steps])
    monkeypatch.delitem(sys.modules, "torch")  # the reader must not need torch
    monkeypatch.delitem(sys.modules, "torch._utils")
    state = load_legacy_checkpoint(path, section="model_state")
    assert list(state) == ["a", "a_t", "b", "steps"]
    assert (state["a"] == np.arange(6).reshape(2, 3)).all()
    assert (state["a_t"] == np.arange(6).reshape(2, 3).T).all()
    assert (state["b"] == [6, 7, 8, 9]).all() and state["b"].dtype == np.float32
    assert (state["steps"] == [8, 9]).all() and state["steps"].dtype == np.int64
    everything = load_legacy_checkpoint(path)
    assert (everything["optimizer_state.m"] == -1).all()


def test_legacy_checkpoint_reader_refuses_code_and_garbage(tmp_path):
    class Evil:
        def __reduce__(self):
            import os
            return (os.system, ("echo pwned",))

    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        for header in (MAGIC_NUMBER, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickle.dump({"model_state": Evil()}, f, protocol=2)
    with pytest.raises(CheckpointError, match="refusing to load global"):
        load_legacy_checkpoint(evil)

    not_torch = tmp_path / "zip.pt"
    not_torch.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(CheckpointError):
        load_legacy_checkpoint(not_torch)


def test_truncated_checkpoint_is_reported(encoder, tmp_path):
    original = se.find_weights().read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(original[: len(original) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_legacy_checkpoint(cut, section="model_state")
    with pytest.raises(VoicekitError) as error:
        se.Ge2eWeights.load(cut)
    assert error.value.code == "encoder_unavailable"
