"""CMU Flite (the Debian ``flite`` package) as a subprocess: the system voices.

Flite is never run through a shell: the text goes in a temporary file (``-f``), the audio comes back in a
temporary WAV (``-o``), the voice name is checked against a fixed list first (flite silently falls back to its
default voice for a name it does not know, and would load a file or URL for a path-like name).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

import numpy as np

from .errors import VoicekitError
from .pcm import read_wav


@dataclass(frozen=True)
class Voice:
    name: str
    sample_rate: int
    gender: str
    description: str


# The English voices compiled into Debian's flite 2.2 (``flite -lv``), minus the limited-domain ``awb_time``.
VOICES: dict[str, Voice] = {v.name: v for v in [
    Voice("slt", 16000, "female", "US English female, statistical parametric (CMU ARCTIC slt)"),
    Voice("awb", 16000, "male", "Scottish English male, statistical parametric (CMU ARCTIC awb)"),
    Voice("rms", 16000, "male", "US English male, statistical parametric (CMU ARCTIC rms)"),
    Voice("kal16", 16000, "male", "US English male, diphone (kal, 16 kHz)"),
    Voice("kal", 8000, "male", "US English male, diphone (kal, 8 kHz)"),
]}


class Flite:
    """Runs the ``flite`` binary. ``check()`` at start-up fails fast when it or a voice is missing."""

    def __init__(self, binary: str | None = None, timeout_s: float = 120.0) -> None:
        self.binary = binary or shutil.which("flite") or "flite"
        self.timeout_s = timeout_s

    def installed_voices(self) -> set[str]:
        try:
            out = subprocess.run([self.binary, "-lv"], capture_output=True, text=True, timeout=10, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            raise VoicekitError("tts_unavailable", f"cannot run flite ({self.binary}): {exc}",
                                invalid_input=False) from exc
        listed = out.stdout.split(":", 1)[-1].split()
        return {name for name in listed if name in VOICES}

    def check(self) -> set[str]:
        """The usable voices; raises if flite is missing or has none of ours."""
        voices = self.installed_voices()
        if not voices:
            raise VoicekitError("tts_unavailable", f"flite at {self.binary} lists none of {sorted(VOICES)}",
                                invalid_input=False)
        return voices

    def synthesize(self, text: str, voice: str, duration_stretch: float = 1.0) -> tuple[np.ndarray, int]:
        """Speak ``text`` (already normalised) with ``voice``. Returns (float32 mono samples, sample rate)."""
        if voice not in VOICES:  # the caller validates; this guards the command line
            raise VoicekitError("unknown_voice", f"unknown voice {voice!r}")
        with tempfile.TemporaryDirectory(prefix="voicekit-flite-") as tmp:
            text_path = os.path.join(tmp, "input.txt")
            wav_path = os.path.join(tmp, "output.wav")
            with open(text_path, "w", encoding="ascii", errors="ignore") as handle:
                handle.write(text + "\n")
            argv = [self.binary, "-voice", voice, "--setf", f"duration_stretch={duration_stretch:.4f}",
                    "-f", text_path, "-o", wav_path]
            try:
                result = subprocess.run(argv, capture_output=True, timeout=self.timeout_s, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired as exc:
                raise VoicekitError("synthesis_failed", f"flite took longer than {self.timeout_s:.0f} s",
                                    invalid_input=False) from exc
            except OSError as exc:
                raise VoicekitError("tts_unavailable", f"cannot run flite: {exc}", invalid_input=False) from exc
            if result.returncode != 0 or not os.path.exists(wav_path):
                detail = result.stderr.decode("utf-8", "replace").strip()[-300:]
                raise VoicekitError("synthesis_failed", f"flite exited with {result.returncode}: {detail}",
                                    invalid_input=False)
            samples, rate = read_wav(wav_path)
        return samples, rate
