"""A second, independent speaker representation for the voice-quality benchmark: MFCC statistics.

No neural speaker-verification model of another architecture than GE2E ships its weights in a registry package
(searched: ``redimnet2-onnx``, ``xvector-jtubespeech``, ``anime-speaker-embedding``, ``wespeakerruntime``,
``speakeronnx``, npm ``@jaehyun-ko/speaker-verification`` — all fetch their weights from a model hub at run
time), so the benchmark cross-checks GE2E with a classic, non-neural representation that enrolment never
optimises: per clip, the mean and standard deviation of 19 MFCCs (c1-c19, 25 ms / 10 ms, 40 mel bands up to
7.6 kHz, 16 kHz audio) over the clip's voiced, loud frames — the long-term spectral shape and its spread, the
"GMM mean supervector" of one Gaussian. Comparison: cosine after subtracting a background mean and dividing by
a background spread (``Background``), i.e. cosine of z-scored statistics. It separates speakers far less well
than a trained encoder; use it for rankings (does the clone beat every other speaker?), not as an absolute score.
"""
from __future__ import annotations

import numpy as np

RATE = 16000
N_FFT = 512
WIN = 400
HOP = 160
N_MELS = 40
N_CEPS = 20


def _mel_bank(rate: int = RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 60.0,
              fmax: float = 7600.0) -> np.ndarray:
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = inv(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    bank = np.zeros((n_mels, bins.size))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        bank[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank


_BANK = _mel_bank()
_DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS)[None, :] + 0.5) * np.arange(N_CEPS)[:, None])


def statistics(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    """Mean and standard deviation of c1..c19 over the loud frames (within 30 dB of the loudest)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if rate != RATE:
        import soxr

        x = soxr.resample(x, rate, RATE)
    x = np.append(x[0], x[1:] - 0.97 * x[:-1])
    if len(x) < WIN:
        x = np.pad(x, (0, WIN - len(x)))
    count = 1 + (len(x) - WIN) // HOP
    frames = np.lib.stride_tricks.as_strided(x, (count, WIN), (x.strides[0] * HOP, x.strides[0])) * np.hamming(WIN)
    power = np.abs(np.fft.rfft(frames, N_FFT)) ** 2
    energy = 10 * np.log10(power.sum(axis=1) + 1e-12)
    loud = energy > energy.max() - 30.0
    ceps = (np.log(power[loud] @ _BANK.T + 1e-10) @ _DCT.T)[:, 1:]
    return np.concatenate([ceps.mean(axis=0), ceps.std(axis=0)])


class Background:
    """z-scoring of MFCC statistics against a background population of clips (every speaker and condition of a
    benchmark run), then cosine similarity."""

    def __init__(self, stats: list[np.ndarray]) -> None:
        data = np.asarray(stats)
        self.mean = data.mean(axis=0)
        self.scale = data.std(axis=0) + 1e-6

    def vector(self, stats: np.ndarray) -> np.ndarray:
        z = (np.asarray(stats) - self.mean) / self.scale
        return z / (np.linalg.norm(z) + 1e-12)

    def similarity(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.vector(a) @ self.vector(b))
