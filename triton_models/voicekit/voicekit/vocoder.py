"""A WORLD-style source-filter vocoder in numpy: F0, spectral envelope, aperiodicity → speech, and back.

``pyworld`` (the WORLD vocoder's Python binding) publishes no binary wheels for Linux, so the models' environment
would have to compile it; this module reimplements the parts voice conversion needs, after the same papers
(Morise et al., "WORLD: a vocoder-based high-quality speech synthesis system", 2016), with numpy only:

- **F0**: YIN (:mod:`voicekit.pitch`) every ``FRAME_PERIOD_S`` (5 ms), median-smoothed; 0 = unvoiced.
- **Spectral envelope** (CheapTrick): per frame a Hann window three pitch periods long (unvoiced frames: as if
  F0 were 500 Hz), its power spectrum smoothed over 2/3 F0 in frequency, then liftered in the cepstrum with the
  F0-adaptive smoothing lifter sin(π F0 q)/(π F0 q) and the compensation lifter 1.3 − 0.3 cos(2π F0 q). The
  result is F0-independent and calibrated so that ``mean(S)`` over the bins is the signal's power per sample.
- **Aperiodicity** (a simple D4C stand-in): per voiced frame and band, the ratio of the power between
  harmonics to the power at harmonics in a six-period Hann-window spectrum — ≈ the noise fraction of the band;
  1 in unvoiced frames. Interpolated to every bin.
- **Synthesis**: minimum-phase pulses, one per period (F0 integrated sample by sample, fractional positions kept
  by a linear-phase delay), each shaped by sqrt(S·(1−ap²)·T0), plus white noise shaped frame by frame by
  sqrt(S·ap²) (windowed overlap-add). Frames can be resampled in time before synthesis (``time_scale``), which
  changes duration and leaves pitch and spectra as they were.

A round trip (analyse → synthesise) of the flite voices keeps speaker-embedding cosine ≈ 0.97 and
pocketsphinx transcripts; it costs RTF ≈ 0.05–0.1 on one core (see docs/voice-quality.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from . import pitch

FRAME_PERIOD_S = 0.005
F0_FLOOR = 60.0
F0_CEIL = 500.0
YIN_THRESHOLD = 0.35
UNVOICED_F0 = 500.0          # CheapTrick's window for unvoiced frames (WORLD's kDefaultF0)
Q1 = -0.15                   # CheapTrick's compensation-lifter coefficient
AP_BANDS_HZ = (0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5500.0)   # lower band edges; the last band ends at Nyquist
MIN_AP = 0.001
_NOISE_BIAS = 1.6            # mean(valley)/max(peak±0.15 F0) of white noise is ≈ 1/1.6 (measured); corrected
_BLOCK = 256                 # frames per vectorised block (bounds memory: 256 × 2048 float64 = 4 MB)
_EPS = 1e-12


@dataclass(frozen=True)
class Features:
    """What the analysis gives, per frame ``i`` centred at ``i * hop`` samples.

    ``f0`` (Hz, 0 = unvoiced), ``envelope`` (power spectral envelope, ``fft_size // 2 + 1`` bins), ``aperiodicity``
    (0–1, same bins), ``sample_rate``, ``hop`` (samples), ``fft_size``.
    """

    f0: np.ndarray
    envelope: np.ndarray
    aperiodicity: np.ndarray
    sample_rate: int
    hop: int
    fft_size: int

    @property
    def frames(self) -> int:
        return len(self.f0)

    @property
    def duration_s(self) -> float:
        return self.frames * self.hop / self.sample_rate

    @property
    def voiced(self) -> np.ndarray:
        return self.f0 > 0

    def with_(self, **changes) -> "Features":
        return replace(self, **changes)


def fft_size_for(sample_rate: int) -> int:
    """CheapTrick's FFT size: a power of two holding three periods of the F0 floor (1024 at 16 kHz)."""
    return 1 << (1 + int(math.log2(3.0 * sample_rate / F0_FLOOR)))


def frequencies(sample_rate: int, fft_size: int) -> np.ndarray:
    return np.arange(fft_size // 2 + 1) * (sample_rate / fft_size)


# --------------------------------------------------------------------------------------------------- analysis


def _octave_fix(f0: np.ndarray, span: int = 25) -> np.ndarray:
    """Halve / double voiced values more than ~0.7 octave from the median of their ±``span`` voiced neighbours."""
    out = f0.copy()
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size < 5:
        return out
    logs = np.log(f0[voiced])
    for j, i in enumerate(voiced):
        deviation = logs[j] - np.median(logs[max(0, j - span): j + span + 1])
        if deviation > 0.5:
            out[i] = f0[i] / 2.0
        elif deviation < -0.5:
            out[i] = f0[i] * 2.0
    return out


def f0_track(x: np.ndarray, sample_rate: int, hop: int) -> np.ndarray:
    """YIN F0 at frame centres ``i * hop``: the tracker's frames start at their index, so the input is shifted by
    half a window. A lenient dip threshold (``YIN_THRESHOLD``: diphone voices such as kal16 have rough excitation
    that the usual 0.2 calls unvoiced), octave errors folded back, then a 5-frame median."""
    width = int(round(pitch.WINDOW_S * sample_rate))
    padded = np.concatenate((np.zeros(width // 2, dtype=np.float32), np.asarray(x, dtype=np.float32)))
    track = pitch.track(padded, sample_rate, fmin=F0_FLOOR, fmax=F0_CEIL, hop_s=hop / sample_rate,
                        threshold=YIN_THRESHOLD)
    f0 = pitch.smooth(_octave_fix(track.f0.astype(np.float64)))
    count = len(x) // hop + 1
    out = np.zeros(count, dtype=np.float64)
    n = min(count, len(f0))
    out[:n] = f0[:n]
    return out


def _frames(x: np.ndarray, centres: np.ndarray, size: int) -> np.ndarray:
    """Rows of ``size`` samples of ``x`` starting at ``centre - size // 2`` (zeros outside)."""
    half = size // 2
    padded = np.concatenate((np.zeros(half + 1), x.astype(np.float64), np.zeros(size + 1)))
    index = centres[:, None] + np.arange(size)[None, :] + 1  # +1: the padding is half + 1 long
    return padded[index]


def _hann_rows(f0: np.ndarray, size: int, periods: float, sample_rate: int) -> np.ndarray:
    """Per row a Hann window ``periods`` pitch periods long (centred at ``size // 2``), unit energy."""
    offsets = np.arange(size)[None, :] - size // 2
    half_width = 0.5 * periods * sample_rate / f0[:, None]
    ratio = offsets / half_width
    window = np.where(np.abs(ratio) < 1.0, 0.5 + 0.5 * np.cos(np.pi * ratio), 0.0)
    return window / np.sqrt(np.maximum((window ** 2).sum(axis=1, keepdims=True), _EPS))


def _smooth_linear(power: np.ndarray, width_bins: np.ndarray) -> np.ndarray:
    """Average of each row over ``width_bins`` (per row, fractional) centred bins; mirrored at 0 and Nyquist."""
    rows, bins = power.shape
    pad = int(np.ceil(width_bins.max() / 2.0)) + 2
    extended = np.concatenate((power[:, pad:0:-1], power, power[:, -2:-pad - 2:-1]), axis=1)
    cumulative = np.concatenate((np.zeros((rows, 1)), np.cumsum(extended, axis=1)), axis=1)

    def integral(position: np.ndarray) -> np.ndarray:  # ∫ from the left edge, linear inside each bin
        lower = np.floor(position).astype(np.int64)
        frac = position - lower
        lower = np.clip(lower, 0, cumulative.shape[1] - 2)
        left = np.take_along_axis(cumulative, lower, axis=1)
        right = np.take_along_axis(cumulative, lower + 1, axis=1)
        return left + frac * (right - left)

    centre = np.arange(bins)[None, :] + pad + 0.5
    half = width_bins[:, None] / 2.0
    return (integral(centre + half) - integral(centre - half)) / width_bins[:, None]


def _lifter(log_power: np.ndarray, f0: np.ndarray, sample_rate: int, fft_size: int) -> np.ndarray:
    """CheapTrick's cepstral liftering of log power spectra (rows), F0-adaptive."""
    cepstrum = np.fft.irfft(log_power, fft_size, axis=1)
    quefrency = np.arange(fft_size // 2 + 1) / sample_rate
    arg = f0[:, None] * quefrency[None, :]
    smoothing = np.sinc(arg)                                            # sin(π f0 q) / (π f0 q)
    compensation = (1.0 - 2.0 * Q1) + 2.0 * Q1 * np.cos(2.0 * np.pi * arg)
    lifter_half = smoothing * compensation
    lifter = np.concatenate((lifter_half, lifter_half[:, -2:0:-1]), axis=1)
    return np.fft.rfft(cepstrum * lifter, fft_size, axis=1).real


def envelope(x: np.ndarray, f0: np.ndarray, sample_rate: int, hop: int, fft_size: int) -> np.ndarray:
    """CheapTrick spectral envelope (power, unit-energy-window scale) for frames centred at ``i * hop``."""
    count = len(f0)
    out = np.empty((count, fft_size // 2 + 1))
    f0_used = np.where(f0 > 0, np.maximum(f0, F0_FLOOR), UNVOICED_F0)
    for first in range(0, count, _BLOCK):
        idx = np.arange(first, min(count, first + _BLOCK))
        rows = _frames(x, idx * hop, fft_size)
        window = _hann_rows(f0_used[idx], fft_size, 3.0, sample_rate)
        weighted = rows * window
        # remove the window-shaped DC component, as CheapTrick does
        weighted -= window * (weighted.sum(axis=1, keepdims=True) / np.maximum(window.sum(axis=1, keepdims=True),
                                                                                 _EPS))
        power = np.abs(np.fft.rfft(weighted, fft_size, axis=1)) ** 2
        width = (2.0 / 3.0) * f0_used[idx] * fft_size / sample_rate
        smoothed = _smooth_linear(power, np.maximum(width, 1.0))
        log_power = np.log(smoothed + _EPS)
        out[idx] = np.exp(_lifter(log_power, f0_used[idx], sample_rate, fft_size))
    return out


def aperiodicity(x: np.ndarray, f0: np.ndarray, sample_rate: int, hop: int, fft_size: int) -> np.ndarray:
    """Band aperiodicity per frame, interpolated to ``fft_size // 2 + 1`` bins (1 for unvoiced frames)."""
    bins = fft_size // 2 + 1
    out = np.ones((len(f0), bins))
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size == 0:
        return out
    nyquist = sample_rate / 2.0
    edges = [e for e in AP_BANDS_HZ if e < nyquist] + [nyquist]
    centres = np.array([(lo + hi) / 2.0 for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
    freqs = frequencies(sample_rate, fft_size)
    size = 2 * fft_size  # six periods of the F0 floor fit
    grid = np.arange(size // 2 + 1) * (sample_rate / size)
    band_ap = np.empty((voiced.size, len(centres)))
    for first in range(0, voiced.size, _BLOCK):
        idx = voiced[first: first + _BLOCK]
        f0_rows = np.maximum(f0[idx], F0_FLOOR)
        rows = _frames(x, idx * hop, size) * _hann_rows(f0_rows, size, 6.0, sample_rate)
        power = np.abs(np.fft.rfft(rows, size, axis=1)) ** 2
        step = sample_rate / size
        for r, f in enumerate(f0_rows):
            harmonics = np.arange(f, nyquist - f, f)
            if harmonics.size == 0:
                band_ap[first + r] = 1.0
                continue
            span = max(1, int(round(0.15 * f / step)))
            centre_bins = np.round(harmonics / step).astype(np.int64)
            window = centre_bins[:, None] + np.arange(-span, span + 1)[None, :]
            peaks = power[r][np.clip(window, 0, len(grid) - 1)].max(axis=1)
            valleys = np.interp(harmonics + 0.5 * f, grid, power[r])
            ratio_band = np.empty(len(centres))
            for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
                sel = (harmonics >= lo) & (harmonics < hi)
                if not sel.any():
                    ratio_band[b] = 1.0
                    continue
                ratio_band[b] = _NOISE_BIAS * valleys[sel].sum() / max(peaks[sel].sum(), _EPS)
            band_ap[first + r] = np.sqrt(np.clip(ratio_band, MIN_AP ** 2, 1.0))
    # a 3-frame median in time (per band) against single-frame outliers
    if voiced.size >= 3:
        stacked = np.stack((np.roll(band_ap, 1, axis=0), band_ap, np.roll(band_ap, -1, axis=0)))
        smoothed = np.median(stacked, axis=0)
        smoothed[0], smoothed[-1] = band_ap[0], band_ap[-1]
        band_ap = smoothed
    log_ap = np.log(band_ap)
    for r, i in enumerate(voiced):
        out[i] = np.exp(np.interp(freqs, centres, log_ap[r]))
    return out


def analyze(samples: np.ndarray, sample_rate: int, f0: np.ndarray | None = None,
            frame_period_s: float = FRAME_PERIOD_S) -> Features:
    """Mono float samples → :class:`Features` (F0 by YIN unless given, one value per frame)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    hop = max(1, int(round(frame_period_s * sample_rate)))
    fft_size = fft_size_for(sample_rate)
    if f0 is None:
        f0 = f0_track(x.astype(np.float32), sample_rate, hop)
    f0 = np.asarray(f0, dtype=np.float64)
    return Features(f0=f0, envelope=envelope(x, f0, sample_rate, hop, fft_size),
                    aperiodicity=aperiodicity(x, f0, sample_rate, hop, fft_size),
                    sample_rate=sample_rate, hop=hop, fft_size=fft_size)


# --------------------------------------------------------------------------------------------------- time scaling


def time_scale(features: Features, factor: float) -> Features:
    """Resample the frame sequence to ``factor`` times as many frames: duration × factor, pitch and spectra kept.

    Voicing comes from the nearest source frame (so voiced runs stay voiced), F0 is interpolated in log within
    voiced runs, envelopes (in log) and aperiodicities linearly.
    """
    if not factor > 0 or not math.isfinite(factor):
        raise ValueError(f"time-scale factor must be positive, got {factor}")
    count = features.frames
    new_count = max(1, int(round(count * factor)))
    if new_count == count or count < 2:
        return features
    position = np.arange(new_count) * ((count - 1) / max(new_count - 1, 1))
    lower = np.clip(np.floor(position).astype(np.int64), 0, count - 2)
    frac = (position - lower)[:, None]
    nearest = np.clip(np.round(position).astype(np.int64), 0, count - 1)
    log_env = np.log(features.envelope + _EPS)
    env = np.exp(log_env[lower] * (1 - frac) + log_env[lower + 1] * frac)
    ap = features.aperiodicity[lower] * (1 - frac) + features.aperiodicity[lower + 1] * frac
    f0_src = features.f0
    voiced = f0_src[nearest] > 0
    both = (f0_src[lower] > 0) & (f0_src[lower + 1] > 0)
    log_f0 = np.log(np.maximum(f0_src, 1e-6))
    interp = np.exp(log_f0[lower] * (1 - frac[:, 0]) + log_f0[lower + 1] * frac[:, 0])
    f0 = np.where(voiced, np.where(both, interp, f0_src[nearest]), 0.0)
    return features.with_(f0=f0, envelope=env, aperiodicity=ap)


# --------------------------------------------------------------------------------------------------- synthesis


def minimum_phase(log_magnitude: np.ndarray, fft_size: int) -> np.ndarray:
    """Rows of half-spectrum log magnitudes → complex minimum-phase spectra (folded real cepstrum)."""
    cepstrum = np.fft.irfft(log_magnitude, fft_size, axis=1)
    half = fft_size // 2
    fold = np.zeros_like(cepstrum[:, : half + 1])
    fold[:, 0] = cepstrum[:, 0]
    fold[:, 1:half] = 2.0 * cepstrum[:, 1:half]
    fold[:, half] = cepstrum[:, half]
    return np.exp(np.fft.rfft(fold, fft_size, axis=1))


def _pulse_times(f0: np.ndarray, hop: int, length: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional sample positions of glottal pulses (one per period over voiced frames) and the F0 at each."""
    frame_times = np.arange(len(f0)) * hop
    n = np.arange(length)
    nearest = np.clip(np.round(n / hop).astype(np.int64), 0, len(f0) - 1)
    voiced = f0[nearest] > 0
    if not voiced.any():
        return np.zeros(0), np.zeros(0)
    vf = f0 > 0
    # log-F0 interpolated between voiced frames (each sample takes the contour, voicing from the nearest frame)
    contour = np.exp(np.interp(n, frame_times[vf], np.log(f0[vf])))
    pulses: list[np.ndarray] = []
    pulse_f0: list[np.ndarray] = []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], voiced.astype(np.int8), [0]))))
    for start, stop in zip(edges[0::2], edges[1::2], strict=True):
        phase = np.cumsum(contour[start:stop] / sample_rate)
        phase -= phase[0]
        count = int(np.floor(phase[-1]))
        targets = np.arange(count + 1, dtype=np.float64)
        where = np.interp(targets, phase, np.arange(start, stop, dtype=np.float64))
        pulses.append(where)
        pulse_f0.append(contour[np.clip(np.round(where).astype(np.int64), 0, length - 1)])
    return np.concatenate(pulses), np.concatenate(pulse_f0)


def _frame_interpolate(values: np.ndarray, position: np.ndarray) -> np.ndarray:
    lower = np.clip(np.floor(position).astype(np.int64), 0, len(values) - 1)
    upper = np.clip(lower + 1, 0, len(values) - 1)
    frac = np.clip(position - lower, 0.0, 1.0)[:, None]
    return values[lower] * (1 - frac) + values[upper] * frac


def synthesize(features: Features, seed: int = 0) -> np.ndarray:
    """:class:`Features` → float32 samples (``frames * hop`` long)."""
    fs, hop, size = features.sample_rate, features.hop, features.fft_size
    count = features.frames
    length = count * hop
    bins = size // 2 + 1
    env = np.maximum(features.envelope, _EPS)
    ap = np.clip(features.aperiodicity, MIN_AP, 1.0)
    out = np.zeros(length + size, dtype=np.float64)

    # periodic part: one minimum-phase response per pulse
    times, pulse_f0 = _pulse_times(features.f0, hop, length, fs)
    if times.size:
        k = np.arange(bins)
        for first in range(0, times.size, _BLOCK):
            t = times[first: first + _BLOCK]
            period = fs / pulse_f0[first: first + _BLOCK]
            position = t / hop
            log_power = np.log(_frame_interpolate(env * (1.0 - ap ** 2), position) + _EPS)
            log_mag = 0.5 * (log_power + np.log(period)[:, None])
            spectrum = minimum_phase(log_mag, size)
            start = np.floor(t).astype(np.int64)
            frac = t - start
            spectrum *= np.exp(-2j * np.pi * k[None, :] * frac[:, None] / size)
            responses = np.fft.irfft(spectrum, size, axis=1)
            index = start[:, None] + np.arange(size)[None, :]
            out += np.bincount(index.ravel(), weights=responses.ravel(), minlength=len(out))[: len(out)]

    # aperiodic part: white noise shaped per frame (Hann windows 4 hops long, weighted overlap-add). Buffers are
    # offset by ``size`` samples: index b = output time t + size.
    rng = np.random.default_rng(seed)
    win_len = 4 * hop
    window = np.hanning(win_len + 2)[1:-1]
    noise = rng.standard_normal(length + win_len)
    gain = np.sqrt(env * ap ** 2)
    total = length + 3 * size
    noise_out = np.zeros(total)
    shift = size // 4  # zero-phase filtering wraps each segment's start around; roll it back by this much
    for first in range(0, count, _BLOCK):
        idx = np.arange(first, min(count, first + _BLOCK))
        starts = idx * hop  # frame i's window covers output times [i*hop - win_len/2, i*hop + win_len/2)
        seg = noise[starts[:, None] + np.arange(win_len)[None, :]] * window[None, :]
        shaped = np.fft.irfft(np.fft.rfft(seg, size, axis=1) * gain[idx], size, axis=1)
        shaped = np.roll(shaped, shift, axis=1)
        place = starts[:, None] + np.arange(size)[None, :] - shift - win_len // 2 + size
        noise_out += np.bincount(place.ravel(), weights=shaped.ravel(), minlength=total)[:total]
    # Hann windows at 75 % overlap sum to 2 (edges: fewer frames, divide by what is there)
    norm_index = (np.arange(count)[:, None] * hop + np.arange(win_len)[None, :] - win_len // 2 + size).ravel()
    norm = np.bincount(norm_index, weights=np.tile(window, count), minlength=total)[:total]
    steady = 0.5 * win_len / hop  # = 2
    norm = np.maximum(norm, 0.25 * steady)
    out[:length] += (noise_out / norm)[size: size + length]
    return out[:length].astype(np.float32)
