"""Voice conversion on vocoder features (:mod:`voicekit.vocoder`): pure functions, numpy only.

A system voice's speech is moved toward a target speaker by

1. **F0 mapping**: every voiced frame's ln F0 → μt + k·(σt/σs)(ln F0 − μs) (μ, σ: mean and standard deviation
   of ln F0; k: a tuned range factor; σt/σs bounded to ½–2); unvoiced frames stay unvoiced.
2. **Frequency warp** of the spectral envelope by a factor α (formants × α): S'(f) = S(w⁻¹(f)) with a piecewise
   linear w that is f·α up to ``WARP_BREAK`` of Nyquist and then reaches Nyquist exactly, so no band is lost.
3. **EQ**: a smooth gain curve (on a mel grid of ``GRID_POINTS`` points, ≤ ``MAX_EQ_DB`` in magnitude) that moves
   the warped voice's long-term average envelope toward the target's; separate curves for voiced and unvoiced
   frames.
4. **Aperiodicity**: ap' = ap^(1/β) for voiced frames (β > 1: breathier, < 1: more periodic).
5. **Time scaling** (speed, target duration): the frames are resampled (``vocoder.time_scale``), so the duration
   changes and the pitch does not.

Everything here is deterministic and side-effect free; enrolment tunes α, k, the EQ strength and β on the
reference itself (:mod:`voicekit.voiceclone`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .vocoder import Features, frequencies, time_scale

GRID_POINTS = 40
MAX_EQ_DB = 12.0
WARP_BREAK = 0.8
MIN_WARP, MAX_WARP = 0.75, 1.33
MIN_F0_SCALE, MAX_F0_SCALE = 0.5, 2.0
_EPS = 1e-12
_DB = 10.0 / math.log(10.0)  # power ratio in ln → dB


def mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def grid_hz(sample_rate: int, points: int = GRID_POINTS) -> np.ndarray:
    """``points`` frequencies evenly spaced on the mel scale from 0 Hz to Nyquist (both included)."""
    return mel_to_hz(np.linspace(0.0, float(mel(sample_rate / 2.0)), points))


# --------------------------------------------------------------------------------------------------- F0


def map_f0(f0: np.ndarray, source: tuple[float, float], target: tuple[float, float],
           range_scale: float = 1.0) -> np.ndarray:
    """Gaussian log-F0 mapping of the voiced frames of ``f0`` (Hz; 0 = unvoiced, which stays 0).

    ``source`` / ``target``: (mean, std) of ln F0. The std ratio (times ``range_scale``) is bounded to ½–2.
    """
    f0 = np.asarray(f0, dtype=np.float64)
    source_mean, source_std = source
    target_mean, target_std = target
    ratio = target_std / source_std if source_std > 1e-6 else 1.0
    scale = float(np.clip(ratio * range_scale, MIN_F0_SCALE, MAX_F0_SCALE))
    voiced = f0 > 0
    out = np.zeros_like(f0)
    logs = np.log(f0[voiced])
    out[voiced] = np.exp(target_mean + scale * (logs - source_mean))
    return np.clip(out, 0.0, 1000.0)


# --------------------------------------------------------------------------------------------------- warp


def warp_source_hz(freqs: np.ndarray, alpha: float, nyquist: float) -> np.ndarray:
    """For output frequencies ``freqs``, the source frequency read: f/α below α·``WARP_BREAK``·Nyquist (so formants
    move by α), then linear up to Nyquist → Nyquist. Monotone; α = 1 is the identity."""
    alpha = float(np.clip(alpha, MIN_WARP, MAX_WARP))
    breakpoint_out = WARP_BREAK * nyquist * min(1.0, alpha)
    breakpoint_in = breakpoint_out / alpha
    freqs = np.asarray(freqs, dtype=np.float64)
    upper = breakpoint_in + (freqs - breakpoint_out) * (nyquist - breakpoint_in) / (nyquist - breakpoint_out)
    return np.where(freqs <= breakpoint_out, freqs / alpha, upper)


def warp_rows(values: np.ndarray, alpha: float, sample_rate: int, log_domain: bool = True) -> np.ndarray:
    """Frequency-warp rows of per-bin ``values`` (spectral envelopes or aperiodicities) by ``alpha``."""
    values = np.asarray(values, dtype=np.float64)
    if abs(alpha - 1.0) < 1e-6:
        return values.copy()
    bins = values.shape[-1]
    fft_size = 2 * (bins - 1)
    freqs = frequencies(sample_rate, fft_size)
    source = warp_source_hz(freqs, alpha, sample_rate / 2.0) * (fft_size / sample_rate)  # in bins
    lower = np.clip(np.floor(source).astype(np.int64), 0, bins - 2)
    frac = np.clip(source - lower, 0.0, 1.0)
    data = np.log(values + _EPS) if log_domain else values
    warped = data[..., lower] * (1.0 - frac) + data[..., lower + 1] * frac
    return np.exp(warped) if log_domain else warped


def warp_grid(db_values: np.ndarray, alpha: float, sample_rate: int) -> np.ndarray:
    """Warp a curve sampled on :func:`grid_hz` (e.g. an average envelope in dB) by ``alpha``."""
    grid = grid_hz(sample_rate, len(db_values))
    source = warp_source_hz(grid, alpha, sample_rate / 2.0)
    return np.interp(source, grid, db_values)


# --------------------------------------------------------------------------------------------------- envelopes / EQ


def envelope_db_on_grid(envelope: np.ndarray, sample_rate: int, points: int = GRID_POINTS) -> np.ndarray:
    """Rows of power envelopes → dB values at the mel grid (each grid value averages the bins around it)."""
    envelope = np.atleast_2d(np.asarray(envelope, dtype=np.float64))
    bins = envelope.shape[1]
    freqs = frequencies(sample_rate, 2 * (bins - 1))
    grid = grid_hz(sample_rate, points)
    edges = np.concatenate(([0.0], (grid[1:] + grid[:-1]) / 2.0, [sample_rate / 2.0 + 1.0]))
    band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, points - 1)
    counts = np.bincount(band, minlength=points).astype(np.float64)
    log_env = np.log(envelope + _EPS) * _DB
    sums = np.zeros((envelope.shape[0], points))
    for b in range(points):  # points is small (40)
        sums[:, b] = log_env[:, band == b].sum(axis=1) if counts[b] else np.nan
    values = sums / np.maximum(counts, 1.0)
    # a grid point with no bin of its own (low frequencies, coarse FFT): interpolate from the bins
    missing = counts == 0
    if missing.any():
        for r in range(values.shape[0]):
            values[r, missing] = np.interp(grid[missing], freqs, log_env[r])
    return values


def average_envelope_db(features: Features, voiced: bool = True, floor_db: float = 40.0) -> np.ndarray | None:
    """Long-term average envelope (dB, mel grid) over the voiced (or unvoiced) frames that are within
    ``floor_db`` of the loudest frame; None when there are fewer than 20 such frames."""
    power = features.envelope.mean(axis=1)
    loud = power >= power.max() * 10.0 ** (-floor_db / 10.0)
    select = loud & (features.voiced if voiced else ~features.voiced)
    if select.sum() < 20:
        return None
    return envelope_db_on_grid(features.envelope[select], features.sample_rate).mean(axis=0)


def smooth_curve(values: np.ndarray, passes: int = 2) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    for _ in range(passes):
        padded = np.concatenate(([out[0]], out, [out[-1]]))
        out = (padded[:-2] + padded[1:-1] + padded[2:]) / 3.0
    return out


def eq_curve(target_db: np.ndarray, source_db: np.ndarray, strength: float = 1.0,
             max_db: float = MAX_EQ_DB) -> np.ndarray:
    """The EQ (dB on the mel grid) that moves ``source_db`` toward ``target_db``: their difference with its mean
    removed (the level is set elsewhere), smoothed, times ``strength``, bounded to ±``max_db``."""
    diff = np.asarray(target_db, dtype=np.float64) - np.asarray(source_db, dtype=np.float64)
    diff = np.nan_to_num(diff, nan=0.0, posinf=0.0, neginf=0.0)
    diff = smooth_curve(diff - diff.mean())
    return np.clip(float(strength) * diff, -max_db, max_db)


def apply_eq(envelope: np.ndarray, eq_db: np.ndarray, sample_rate: int, rows: np.ndarray | None = None,
             max_db: float = MAX_EQ_DB) -> np.ndarray:
    """``envelope`` (rows × bins, power) times the EQ curve (dB on the mel grid, interpolated to every bin, bounded
    to ±``max_db``); only the rows selected by the boolean ``rows`` if given."""
    envelope = np.asarray(envelope, dtype=np.float64)
    bins = envelope.shape[-1]
    freqs = frequencies(sample_rate, 2 * (bins - 1))
    grid = grid_hz(sample_rate, len(eq_db))
    gain = 10.0 ** (np.clip(np.interp(freqs, grid, np.asarray(eq_db, dtype=np.float64)), -max_db, max_db) / 10.0)
    out = envelope.copy()
    if rows is None:
        out *= gain
    else:
        out[rows] *= gain
    return out


# --------------------------------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """One conversion: source (system voice) and target ln-F0 statistics, and the tuned knobs."""

    source_f0: tuple[float, float]
    target_f0: tuple[float, float]
    warp: float = 1.0
    f0_range: float = 1.0
    eq_voiced_db: tuple[float, ...] = field(default_factory=tuple)
    eq_unvoiced_db: tuple[float, ...] = field(default_factory=tuple)
    breathiness: float = 1.0

    def to_dict(self) -> dict:
        return {"sourceF0": {"logMean": round(self.source_f0[0], 5), "logStd": round(self.source_f0[1], 5)},
                "targetF0": {"logMean": round(self.target_f0[0], 5), "logStd": round(self.target_f0[1], 5)},
                "warp": round(self.warp, 4), "f0Range": round(self.f0_range, 4),
                "breathiness": round(self.breathiness, 4),
                "eqVoicedDb": [round(float(v), 2) for v in self.eq_voiced_db],
                "eqUnvoicedDb": [round(float(v), 2) for v in self.eq_unvoiced_db]}

    @classmethod
    def from_dict(cls, data: dict, target_f0: tuple[float, float] | None = None) -> "Settings":
        """From :meth:`to_dict`'s document; ``target_f0`` is used when the document has no ``targetF0``."""
        source = data["sourceF0"]
        if isinstance(data.get("targetF0"), dict):
            target_f0 = (float(data["targetF0"]["logMean"]), float(data["targetF0"]["logStd"]))
        if target_f0 is None:
            raise ValueError("conversion settings without a target F0")
        return cls(source_f0=(float(source["logMean"]), float(source["logStd"])), target_f0=target_f0,
                   warp=float(data.get("warp", 1.0)), f0_range=float(data.get("f0Range", 1.0)),
                   eq_voiced_db=tuple(float(v) for v in data.get("eqVoicedDb") or ()),
                   eq_unvoiced_db=tuple(float(v) for v in data.get("eqUnvoicedDb") or ()),
                   breathiness=float(data.get("breathiness", 1.0)))


def convert(features: Features, settings: Settings) -> Features:
    """Apply F0 mapping, warp, EQ and aperiodicity change to a system voice's :class:`Features`."""
    voiced = features.voiced
    f0 = map_f0(features.f0, settings.source_f0, settings.target_f0, settings.f0_range)
    env = warp_rows(features.envelope, settings.warp, features.sample_rate)
    ap = warp_rows(features.aperiodicity, settings.warp, features.sample_rate, log_domain=False)
    if settings.eq_voiced_db:
        env = apply_eq(env, np.array(settings.eq_voiced_db), features.sample_rate, rows=voiced)
    if settings.eq_unvoiced_db:
        env = apply_eq(env, np.array(settings.eq_unvoiced_db), features.sample_rate, rows=~voiced)
    if abs(settings.breathiness - 1.0) > 1e-6:
        beta = float(np.clip(settings.breathiness, 0.25, 4.0))
        ap = ap.copy()
        ap[voiced] = np.clip(ap[voiced], 1e-3, 1.0) ** (1.0 / beta)
    return features.with_(f0=f0, envelope=env, aperiodicity=np.clip(ap, 0.0, 1.0))


def scale_duration(features: Features, speed: float = 1.0, duration_s: float | None = None) -> Features:
    """Time-scale frames for ``speed`` (2 = twice as fast) or to a target total ``duration_s`` (which wins)."""
    if duration_s is not None and duration_s > 0:
        factor = duration_s / max(features.duration_s, 1e-6)
    else:
        factor = 1.0 / speed
    if abs(factor - 1.0) < 1e-4:
        return features
    return time_scale(features, factor)


def match_loudness(samples: np.ndarray, reference_rms: float, sample_rate: int, peak: float = 0.98) -> np.ndarray:
    """Scale ``samples`` so the RMS of its sounding 20 ms frames equals ``reference_rms``; peaks kept ≤ ``peak``."""
    x = np.asarray(samples, dtype=np.float32)
    level = active_rms(x, sample_rate)
    if level > 0 and reference_rms > 0:
        x = x * np.float32(reference_rms / level)
    top = float(np.max(np.abs(x))) if x.size else 0.0
    if top > peak:
        x = x * np.float32(peak / top)
    return x


def active_rms(samples: np.ndarray, sample_rate: int, floor_db: float = 40.0) -> float:
    """RMS over the 20 ms frames within ``floor_db`` of the loudest one."""
    x = np.asarray(samples, dtype=np.float64)
    frame = max(1, int(0.02 * sample_rate))
    count = len(x) // frame
    if count == 0:
        return float(np.sqrt(np.mean(x ** 2))) if x.size else 0.0
    energy = (x[: count * frame].reshape(count, frame) ** 2).mean(axis=1)
    loud = energy >= energy.max() * 10.0 ** (-floor_db / 10.0)
    return float(np.sqrt(energy[loud].mean())) if loud.any() else 0.0
