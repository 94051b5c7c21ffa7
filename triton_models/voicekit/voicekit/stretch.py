"""Time-stretching without a pitch change: WSOLA (waveform-similarity overlap-add), pure numpy.

Used on neural (Kokoro) speech for speeds beyond what the model's own ``speed`` input does well and for fitting an
exact total duration. Unlike a vocoder round trip (``voicekit.vocoder``) it never re-synthesises the signal: it
re-lays short windows of the original, each shifted (within ``tolerance``) to line up with the previous one's
natural continuation, so pitch and timbre are untouched and the joins are click-free (Hann overlap-add).
"""
from __future__ import annotations

import numpy as np


def wsola(samples: np.ndarray, sample_rate: int, factor: float, frame_s: float = 0.04,
          tolerance_s: float = 0.012) -> np.ndarray:
    """Return ``samples`` lasting ``factor`` times as long (factor > 1 = slower), same pitch. Length is exactly
    ``round(len(samples) * factor)``."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    target = int(round(len(x) * factor))
    if abs(factor - 1.0) < 1e-4 or len(x) == 0:
        return _fit(x.copy(), target)
    frame = max(16, int(frame_s * sample_rate) // 2 * 2)
    hop_out = frame // 2
    hop_in = hop_out / factor
    tol = max(1, int(tolerance_s * sample_rate))
    window = np.hanning(frame).astype(np.float32)
    pad = np.concatenate([np.zeros(tol + frame, np.float32), x, np.zeros(2 * frame + tol, np.float32)])
    offset = tol + frame  # index of x[0] inside pad
    count = int(np.ceil(target / hop_out)) + 2
    out = np.zeros(count * hop_out + frame, dtype=np.float32)
    norm = np.zeros_like(out)
    prev = 0  # where the previously placed frame started in pad
    for k in range(count):
        nominal = offset - frame // 2 + int(round(k * hop_in))  # centred on x's k-th hop
        if k == 0:
            start = nominal
        else:
            # the previous frame's natural continuation; pick the nearby candidate most like it
            wanted = pad[prev + hop_out: prev + hop_out + frame]
            lo = max(0, nominal - tol)
            region = pad[lo: nominal + tol + frame]
            if len(region) < frame or not np.any(wanted):
                start = nominal
            else:
                # normalised cross-correlation: the most *similar* candidate, not merely the loudest one
                corr = np.correlate(region, wanted, mode="valid")
                energy = np.cumsum(np.concatenate([[0.0], region.astype(np.float64) ** 2]))
                norms = np.sqrt(np.maximum(energy[frame:] - energy[:-frame], 1e-12))[: len(corr)]
                start = lo + int(np.argmax(corr / norms))
        if start + frame > len(pad):
            break
        out[k * hop_out: k * hop_out + frame] += pad[start: start + frame] * window
        norm[k * hop_out: k * hop_out + frame] += window
        prev = start
    out = out[frame // 2:]  # frame 0 was centred on x[0]
    norm = norm[frame // 2:]
    out = np.where(norm > 1e-3, out / np.maximum(norm, 1e-3), 0.0).astype(np.float32)
    return _fit(out, target)


def _fit(x: np.ndarray, target: int) -> np.ndarray:
    if len(x) >= target:
        return x[:target]
    return np.pad(x, (0, target - len(x)))
