"""F0 (pitch) tracking with YIN, and robust log-F0 statistics (numpy only).

YIN (de Cheveigné & Kawahara, 2002): per frame, the cumulative-mean-normalised difference function d'(τ); the
period is the first dip of d' below ``threshold`` (refined by parabolic interpolation). Frames that are quiet or
have no dip are unvoiced (f0 = 0). The difference function comes from FFT cross-correlation, a block of frames at
a time, so five minutes of 16 kHz audio take well under a second.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

F0_MIN_HZ = 60.0
F0_MAX_HZ = 500.0
HOP_S = 0.01
WINDOW_S = 0.025
YIN_THRESHOLD = 0.2
_BLOCK_FRAMES = 2048


@dataclass(frozen=True)
class F0Track:
    """``f0[i]`` is the pitch (Hz) of the frame starting at ``i * hop`` samples; 0 where unvoiced."""

    f0: np.ndarray
    hop: int
    sample_rate: int

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0

    def at(self, sample: int) -> float:
        """F0 of the frame around ``sample`` (0 if unvoiced or out of range)."""
        index = int(round(sample / self.hop))
        return float(self.f0[index]) if 0 <= index < len(self.f0) else 0.0


@dataclass(frozen=True)
class F0Stats:
    log_mean: float      # mean of ln(f0) over voiced frames (outliers removed)
    log_std: float       # standard deviation of ln(f0)
    median_hz: float
    p10_hz: float
    p90_hz: float
    voiced_frames: int
    voiced_ratio: float  # voiced frames / frames with sound

    def to_dict(self) -> dict:
        return {"logMean": round(self.log_mean, 5), "logStd": round(self.log_std, 5),
                "medianHz": round(self.median_hz, 2), "p10Hz": round(self.p10_hz, 2), "p90Hz": round(self.p90_hz, 2),
                "voicedFrames": int(self.voiced_frames), "voicedRatio": round(self.voiced_ratio, 4)}


def frame_rms(samples: np.ndarray, frame: int, hop: int) -> np.ndarray:
    """RMS of frames of ``frame`` samples every ``hop`` samples (the last partial frame is zero-padded)."""
    samples = np.asarray(samples, dtype=np.float32)
    count = max(1, int(math.ceil(len(samples) / hop)))
    padded = np.zeros(count * hop + frame, dtype=np.float32)
    padded[: len(samples)] = samples
    csum = np.concatenate(([0.0], np.cumsum(padded.astype(np.float64) ** 2)))
    starts = np.arange(count) * hop
    energy = (csum[starts + frame] - csum[starts]) / frame
    return np.sqrt(np.maximum(energy, 0.0)).astype(np.float32)


def track(samples: np.ndarray, sample_rate: int, *, fmin: float = F0_MIN_HZ, fmax: float = F0_MAX_HZ,
          hop_s: float = HOP_S, window_s: float = WINDOW_S, threshold: float = YIN_THRESHOLD,
          silence_db: float = -45.0) -> F0Track:
    """YIN pitch track of mono float ``samples``. Frames quieter than ``silence_db`` below the loudest are unvoiced."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    hop = max(1, int(round(hop_s * sample_rate)))
    width = max(8, int(round(window_s * sample_rate)))
    tau_min = max(2, int(math.floor(sample_rate / fmax)))
    tau_max = int(math.ceil(sample_rate / fmin))
    span = width + tau_max + 1
    count = int(math.ceil(len(x) / hop)) if len(x) else 0
    f0 = np.zeros(count, dtype=np.float32)
    if count == 0:
        return F0Track(f0, hop, sample_rate)

    rms = frame_rms(x, width, hop)
    loud = rms >= max(float(rms.max()) * 10 ** (silence_db / 20), 1e-4)
    padded = np.zeros(count * hop + span, dtype=np.float32)
    padded[: len(x)] = x
    nfft = 1 << int(math.ceil(math.log2(span)))
    taus = np.arange(tau_max + 1)

    for first in range(0, count, _BLOCK_FRAMES):
        index = np.arange(first, min(count, first + _BLOCK_FRAMES))
        index = index[loud[index]]
        if index.size == 0:
            continue
        frames = padded[index[:, None] * hop + np.arange(span)[None, :]].astype(np.float64)
        head = np.zeros_like(frames)
        head[:, :width] = frames[:, :width]
        # r[τ] = Σ_{j<W} x[j] x[j+τ]  (cross-correlation of the first W samples with the whole frame)
        corr = np.fft.irfft(np.conj(np.fft.rfft(head, nfft)) * np.fft.rfft(frames, nfft), nfft)[:, : tau_max + 1]
        csum = np.concatenate((np.zeros((len(index), 1)), np.cumsum(frames ** 2, axis=1)), axis=1)
        energy_tau = csum[:, taus + width] - csum[:, taus]             # Σ_{j<W} x[j+τ]²
        diff = energy_tau[:, :1] + energy_tau - 2.0 * corr             # d(τ)
        diff[:, 0] = 0.0
        running = np.cumsum(diff[:, 1:], axis=1)
        cmnd = np.ones_like(diff)
        cmnd[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(running, 1e-12)
        f0[index] = _pick_periods(cmnd, tau_min, tau_max, threshold, sample_rate)
    return F0Track(_remove_blips(f0), hop, sample_rate)


def _pick_periods(cmnd: np.ndarray, tau_min: int, tau_max: int, threshold: float, sample_rate: int) -> np.ndarray:
    window = cmnd[:, tau_min: tau_max + 1]
    below = window < threshold
    has_dip = below.any(axis=1)
    first = np.argmax(below, axis=1)
    out = np.zeros(len(cmnd), dtype=np.float32)
    for row in np.flatnonzero(has_dip):
        start, values = int(first[row]), window[row]
        # The deepest point of the dip (the run below the threshold), not its first local minimum: noise ripples
        # the dip of a breathy voice, and its first ripple reads the pitch several per cent high.
        end = start + 1
        while end < len(values) and below[row, end]:
            end += 1
        k = start + int(np.argmin(values[start:end]))
        tau = float(k + tau_min)
        if 0 < k < len(values) - 1:  # parabolic interpolation around the minimum
            a, b, c = values[k - 1], values[k], values[k + 1]
            denominator = a - 2.0 * b + c
            if denominator > 0:
                tau += 0.5 * (a - c) / denominator
        if tau > 0:
            out[row] = sample_rate / tau
    return out


def _remove_blips(f0: np.ndarray, min_run: int = 3) -> np.ndarray:
    """Unvoice voiced runs shorter than ``min_run`` frames (isolated detections are usually errors)."""
    voiced = f0 > 0
    out = f0.copy()
    start = None
    for i, flag in enumerate(np.append(voiced, False)):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if i - start < min_run:
                out[start:i] = 0.0
            start = None
    return out


def smooth(f0: np.ndarray, width: int = 5) -> np.ndarray:
    """Median-smooth the voiced frames of a track (unvoiced stay 0), to remove single-frame octave jumps."""
    out = f0.copy()
    half = width // 2
    voiced = np.flatnonzero(f0 > 0)
    for i in voiced:
        window = f0[max(0, i - half): i + half + 1]
        window = window[window > 0]
        out[i] = np.median(window)
    return out


def stats(track_: F0Track, sounding_frames: int | None = None) -> F0Stats | None:
    """Robust log-F0 statistics of a track's voiced frames; None when fewer than 10 frames are voiced.

    Frames more than 3 scaled MADs (≥ 0.35 in ln, about half an octave) from the median are dropped first
    (octave errors), then mean and standard deviation of the rest are taken.
    """
    voiced = track_.f0[track_.f0 > 0].astype(np.float64)
    if voiced.size < 10:
        return None
    logs = np.log(voiced)
    median = float(np.median(logs))
    mad = 1.4826 * float(np.median(np.abs(logs - median)))
    keep = logs[np.abs(logs - median) <= max(3.0 * mad, 0.35)]
    if keep.size < 10:
        keep = logs
    hz = np.exp(keep)
    sounding = sounding_frames if sounding_frames else len(track_.f0)
    return F0Stats(
        log_mean=float(keep.mean()),
        log_std=float(keep.std()),
        median_hz=float(np.median(hz)),
        p10_hz=float(np.percentile(hz, 10)),
        p90_hz=float(np.percentile(hz, 90)),
        voiced_frames=int(voiced.size),
        voiced_ratio=float(min(1.0, voiced.size / max(1, sounding))),
    )
