"""Pitch modification by TD-PSOLA (time-domain pitch-synchronous overlap-add), numpy only.

Voiced parts are cut into two-period grains around pitch marks (one per period, placed on the waveform's peaks)
and laid down again at the *new* period, so the pitch changes while the duration and, roughly, the spectral
envelope (formants) stay. Unvoiced parts are copied through a plain 50 %-overlap Hann analysis/synthesis, which
reconstructs them exactly. The pitch ratio may vary from frame to frame (``ratio_of(f0) -> ratio``), which is
how a voice's F0 mean *and* range are mapped onto a target's.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import pitch

MIN_RATIO = 0.5
MAX_RATIO = 2.0
_UNVOICED_HOP_S = 0.005


def _pitch_marks(x: np.ndarray, track: pitch.F0Track) -> list[tuple[int, int]]:
    """(position, period) of analysis pitch marks over the voiced frames, each refined to the local peak."""
    marks: list[tuple[int, int]] = []
    n = len(x)
    t = 0
    while t < n:
        f0 = track.at(t)
        if f0 <= 0:
            t += track.hop
            continue
        period = max(2, int(round(track.sample_rate / f0)))
        lo, hi = max(0, t - period // 3), min(n, t + period // 3 + 1)
        if marks and marks[-1][0] >= lo:
            lo = marks[-1][0] + period // 2
        if lo >= hi:
            t += period
            continue
        peak = lo + int(np.argmax(x[lo:hi]))
        marks.append((peak, period))
        t = peak + period
    return marks


def shift(samples: np.ndarray, sample_rate: int, ratio_of: Callable[[np.ndarray], np.ndarray],
          track: pitch.F0Track | None = None) -> np.ndarray:
    """Return ``samples`` with every voiced frame's F0 multiplied by ``ratio_of(f0)`` (clipped to 0.5–2)."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if x.size == 0:
        return x.copy()
    if track is None:
        track = pitch.track(x, sample_rate, threshold=0.4)
    f0 = pitch.smooth(track.f0)
    track = pitch.F0Track(f0, track.hop, track.sample_rate)
    marks = _pitch_marks(x, track)
    n = len(x)
    out = np.zeros(n + 2 * sample_rate // 10, dtype=np.float64)
    weight = np.zeros_like(out)
    pad = sample_rate // 20
    out_offset = pad

    mark_positions = np.array([m[0] for m in marks], dtype=np.int64)
    ratios = np.clip(np.asarray(ratio_of(np.array([sample_rate / p for _, p in marks], dtype=np.float64)),
                                dtype=np.float64), MIN_RATIO, MAX_RATIO) if marks else np.zeros(0)
    # The distance to the next mark is the local period as the waveform has it; stepping by it (over the ratio)
    # keeps a ratio of 1 exactly on the analysis marks.
    spacing = [period for _, period in marks]
    for k in range(len(marks) - 1):
        gap = marks[k + 1][0] - marks[k][0]
        if 0.5 * marks[k][1] <= gap <= 1.5 * marks[k][1]:
            spacing[k] = gap
    unvoiced_hop = max(2, int(_UNVOICED_HOP_S * sample_rate))

    def add(grain_center: int, half: int, at: int) -> None:
        lo, hi = grain_center - half, grain_center + half + 1
        window = np.hanning(2 * half + 3)[1:-1]
        segment = np.zeros(2 * half + 1)
        src_lo, src_hi = max(0, lo), min(n, hi)
        if src_hi <= src_lo:
            return
        segment[src_lo - lo: src_hi - lo] = x[src_lo:src_hi]
        dst = at - half + out_offset
        if dst < 0 or dst + len(segment) > len(out):
            return
        out[dst: dst + len(segment)] += segment * window
        weight[dst: dst + len(segment)] += window

    t = 0  # synthesis time (same time axis as the input: the duration is kept)
    in_voiced_run = False
    while t < n:
        voiced = track.at(t) > 0 and mark_positions.size > 0
        if voiced:
            k = int(np.argmin(np.abs(mark_positions - t)))
            position, period = marks[k]
            if not in_voiced_run and abs(position - t) <= period:
                # Entering a voiced run: start the synthesis marks on the analysis marks, so a ratio of 1 gives
                # back the input (grains land where they were cut).
                t = position
            elif abs(position - t) > period:  # no mark near here (edge of a voiced run): treat as unvoiced
                voiced = False
        if voiced:
            add(position, period, t)
            t += max(1, int(round(spacing[k] / ratios[k])))
        else:
            add(t, unvoiced_hop, t)
            t += unvoiced_hop
        in_voiced_run = voiced
    y = out[out_offset: out_offset + n] / np.maximum(weight[out_offset: out_offset + n], 1.0)
    y = y.astype(np.float32)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0.99:
        y *= 0.99 / peak
    return y


def map_log_f0(source_mean: float, source_std: float, target_mean: float, target_std: float,
               max_std_scale: float = 2.0) -> Callable[[np.ndarray], np.ndarray]:
    """The ratio function that maps ln F0 with (mean, std) onto (target mean, target std):
    ln f' = μt + (σt/σs)(ln f − μs), the usual Gaussian F0 transform of voice conversion."""
    scale = target_std / source_std if source_std > 1e-6 else 1.0
    scale = float(np.clip(scale, 1.0 / max_std_scale, max_std_scale))

    def ratio_of(f0: np.ndarray) -> np.ndarray:
        logs = np.log(np.maximum(f0, 1e-6))
        return np.exp(target_mean + scale * (logs - source_mean) - logs)

    return ratio_of
