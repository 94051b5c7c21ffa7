"""Formant frequencies (F1–F3) by LPC on voiced frames, numpy only.

Per 25 ms voiced frame (every 10 ms): pre-emphasis 0.97, Hamming window, autocorrelation LPC of order
2 + fs/1000 (Levinson–Durbin, vectorised over frames), roots of the predictor; resonances between 90 Hz and
Nyquist − 50 Hz with bandwidth < 400 Hz, lowest three. The speaker's F1–F3 are the medians over frames.
"""
from __future__ import annotations

import numpy as np

from . import pitch

FRAME_S = 0.025
HOP_S = 0.01
MAX_BANDWIDTH_HZ = 400.0
MIN_FORMANT_HZ = 90.0


def _levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Rows of autocorrelations → rows of LPC coefficients a (a[:, 0] = 1)."""
    rows = r.shape[0]
    a = np.zeros((rows, order + 1))
    a[:, 0] = 1.0
    error = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.einsum("ij,ij->i", a[:, 1:i], r[:, i - 1:0:-1]) if i > 1 else r[:, i].copy()
        k = -acc / np.maximum(error, 1e-12)
        previous = a[:, 1:i].copy()
        a[:, 1:i] = previous + k[:, None] * previous[:, ::-1]
        a[:, i] = k
        error = error * (1.0 - k ** 2)
    return a


def frame_formants(samples: np.ndarray, sample_rate: int, voiced_only: bool = True,
                   max_frames: int = 600) -> np.ndarray:
    """(frames × 3) formant estimates in Hz (NaN where fewer resonances were found)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    frame, hop = int(FRAME_S * sample_rate), int(HOP_S * sample_rate)
    if len(x) < frame:
        return np.zeros((0, 3))
    starts = np.arange(0, len(x) - frame, hop)
    if voiced_only:
        track = pitch.track(x.astype(np.float32), sample_rate, hop_s=HOP_S, window_s=FRAME_S)
        voiced = np.zeros(len(starts), dtype=bool)
        n = min(len(starts), len(track.f0))
        voiced[:n] = track.f0[:n] > 0
        starts = starts[voiced]
    if len(starts) > max_frames:  # evenly thinned: the medians do not need every frame
        starts = starts[np.linspace(0, len(starts) - 1, max_frames).astype(np.int64)]
    if len(starts) == 0:
        return np.zeros((0, 3))
    emphasised = np.append(x[0], x[1:] - 0.97 * x[:-1])
    frames = emphasised[starts[:, None] + np.arange(frame)[None, :]] * np.hamming(frame)[None, :]
    order = 2 + sample_rate // 1000
    spectrum = np.fft.rfft(frames, 2 * frame, axis=1)
    r = np.fft.irfft(np.abs(spectrum) ** 2, 2 * frame, axis=1)[:, : order + 1]
    r[:, 0] *= 1.0 + 1e-9
    a = _levinson(r, order)
    out = np.full((len(starts), 3), np.nan)
    nyquist = sample_rate / 2.0
    for row in range(len(starts)):
        if not np.all(np.isfinite(a[row])):
            continue
        roots = np.roots(a[row])
        roots = roots[np.imag(roots) > 0]
        freqs = np.angle(roots) * sample_rate / (2 * np.pi)
        bandwidth = -np.log(np.maximum(np.abs(roots), 1e-9)) * sample_rate / np.pi
        keep = (freqs > MIN_FORMANT_HZ) & (freqs < nyquist - 50.0) & (bandwidth < MAX_BANDWIDTH_HZ)
        found = np.sort(freqs[keep])[:3]
        out[row, : len(found)] = found
    return out


def formants(samples: np.ndarray, sample_rate: int) -> list[float] | None:
    """Median F1, F2, F3 (Hz) over the voiced frames; None when too few frames give three resonances."""
    table = frame_formants(samples, sample_rate)
    complete = table[np.all(np.isfinite(table), axis=1)]
    if len(complete) < 10:
        return None
    return [float(v) for v in np.median(complete, axis=0)]
