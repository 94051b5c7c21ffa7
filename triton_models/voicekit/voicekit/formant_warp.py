"""A vocal-tract-length correction for Kokoro clones: the spectral envelope warped in frequency (formants × α),
pitch, timing and phase unchanged; α chosen at enrolment, applied to Kokoro's output at synthesis.

A clone's recipe (:mod:`voicekit.kokoro_enrol`) mixes stock voices, which averages their formant positions: a
speaker whose vocal tract is longer or shorter than any stock voice's is out of reach. This moves every formant
by a factor α (bounded to ``MIN_ALPHA``-``MAX_ALPHA``, ≈ ±12 %: a physically plausible vocal-tract length change)
with the piecewise-linear warp of :func:`voicekit.conversion.warp_source_hz` (f·α up to 0.8 of Nyquist, then
linear to Nyquist, so no band is lost).

**How** (STFT domain, no vocoder): each frame (``FRAME_S``, hop a quarter of it, Hann) has its log-magnitude
spectrum split into a smooth envelope (cepstral lifter at ``LIFTER_FRACTION`` of the voice's pitch period, found
from the cepstrum itself, within ``LIFTER_S``) and the fine structure (harmonics, noise) above it. The warped frame
keeps the fine structure and the phase and swaps the envelope for the warped one — i.e. each frame gets the gain
env(w⁻¹(f)) − env(f) (dB, bounded to ±``MAX_GAIN_DB``); weighted overlap-add resynthesises it. Harmonics stay at
their frequencies (pitch kept), the frames stay where they were (timing kept). On synthetic vowels (F0 95, 120,
220 Hz; α 0.9 / 1.1) the harmonic amplitudes follow a warp of 0.895-0.90 / 1.09-1.10 (unit-tested). Cost ≈ 12 ms
per second of 24 kHz audio on an idle core.

**Enrolment** (:func:`fit`): each α of ``ALPHAS`` is applied to the clone's proxy speech, alone and followed by the
EQ that :mod:`voicekit.spectral_match` already kept; the best α's warped proxy then gets its own EQ fit
(``refit``); everything is scored by the caller's ``score`` (GE2E similarity to the reference). The warp is kept
only if its best combination beats the best unwarped one (the EQ-only clone) by ``MARGIN``.

Profile field ``formantWarp``: ``{"alpha": 0.94}``; a profile without it synthesises exactly as before.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .conversion import warp_source_hz
from .errors import VoicekitError

MIN_ALPHA, MAX_ALPHA = 0.88, 1.12
# The candidates are ±8 %, inside the accepted range: on the real-speaker benchmark a 12 % warp (fillets-cs-small,
# α 1.12) doubled pocketsphinx WER (45 → 91 %) for a +0.003 proxy gain over α 1.08.
ALPHAS = (0.92, 0.96, 1.04, 1.08)
# A female clone's formants are raised by at most 4 %: Kokoro's women are already at the short-vocal-tract end of
# the adult range, and α 1.08 on them doubled pocketsphinx WER on the benchmark (asterisk-es-july 36 → 73 %,
# fillets-cs-small 36 → 73 %; af_heart alone 14 → 50 %) while men at 1.08 kept theirs (librivox 9 → 9 %).
FEMALE_MAX_ALPHA = 1.04
FRAME_S = 0.04
LIFTER_S = (0.0015, 0.005)  # bounds of the envelope's cepstral cut-off (s)
LIFTER_FRACTION = 0.6
MAX_GAIN_DB = 18.0
MARGIN = 0.0            # the warp must beat the best unwarped proxy by more than this (GE2E cosine)
PROFILE_KEY = "formantWarp"
_EPS = 1e-9


def _frame_size(rate: int) -> int:
    return 1 << int(round(math.log2(max(64, FRAME_S * rate))))


def _lifter_cut(cepstrum: np.ndarray, log_mag: np.ndarray, rate: int) -> int:
    """The envelope's cepstral cut-off, in samples: ``LIFTER_FRACTION`` of the voice's pitch period (the median
    over the loudest half of the frames of the cepstral peak between 2.5 and 12.5 ms: 80-400 Hz), bounded to
    ``LIFTER_S``. A low voice gets a sharper envelope (formants resolved), a high one a smoother (no harmonics)."""
    low, high = int(0.0025 * rate), min(int(0.0125 * rate), cepstrum.shape[1] // 2 - 1)
    loud = np.mean(log_mag, axis=1)
    rows = cepstrum[loud >= np.median(loud)]
    period = float(np.median(low + np.argmax(rows[:, low:high], axis=1))) if len(rows) else LIFTER_S[1] * rate
    seconds = float(np.clip(LIFTER_FRACTION * period / rate, *LIFTER_S))
    return max(4, int(round(seconds * rate)))


def warp(samples: np.ndarray, rate: int, alpha: float | None, peak: float = 0.99) -> np.ndarray:
    """``samples`` with their spectral envelope warped by ``alpha`` (formants × α; pitch, timing, phase kept);
    same length, float32, peak kept ≤ ``peak``. ``alpha`` None or 1: the samples are returned unchanged (the same
    array). α is clipped to ``MIN_ALPHA``-``MAX_ALPHA``."""
    if alpha is None or abs(float(alpha) - 1.0) < 1e-6 or len(samples) == 0:
        return samples
    alpha = float(np.clip(alpha, MIN_ALPHA, MAX_ALPHA))
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    n = _frame_size(rate)
    hop = n // 4
    pad = n
    padded = np.pad(x, (pad, pad + hop))
    count = 1 + (len(padded) - n) // hop
    frames = np.lib.stride_tricks.as_strided(padded, (count, n), (padded.strides[0] * hop, padded.strides[0]))
    window = np.hanning(n + 1)[:n]                         # periodic Hann: Σ w² over hops n/4 is constant (1.5)
    spectrum = np.fft.rfft(frames * window, n)
    log_mag = np.log(np.abs(spectrum) + _EPS)
    cepstrum = np.fft.irfft(log_mag, n)
    cut = _lifter_cut(cepstrum, log_mag, rate)
    lifter = np.zeros(n)
    taper = 0.5 + 0.5 * np.cos(np.pi * np.arange(cut) / cut)   # smooth cut: no ringing across the spectrum
    lifter[:cut] = taper
    lifter[n - cut + 1:] = taper[1:][::-1]
    envelope = np.fft.rfft(cepstrum * lifter, n).real      # smooth log-magnitude envelope per frame
    bins = n // 2 + 1
    freqs = np.arange(bins) * rate / n
    source = warp_source_hz(freqs, alpha, rate / 2.0) * n / rate
    lower = np.clip(np.floor(source).astype(np.int64), 0, bins - 2)
    frac = np.clip(source - lower, 0.0, 1.0)
    warped = envelope[:, lower] * (1.0 - frac) + envelope[:, lower + 1] * frac
    limit = MAX_GAIN_DB / 20.0 * math.log(10.0)
    gain = np.exp(np.clip(warped - envelope, -limit, limit))
    out_frames = np.fft.irfft(spectrum * gain, n) * window
    out = np.zeros(len(padded))
    for i in range(count):                                 # overlap-add (count ≈ 100 per second: cheap)
        out[i * hop: i * hop + n] += out_frames[i]
    y = out[pad: pad + len(x)] / (np.sum(window ** 2) / hop)
    top = float(np.abs(y).max())
    if top > peak:
        y *= peak / top
    return y.astype(np.float32)


@dataclass(frozen=True)
class Fitted:
    alpha: float | None           # None: no warp beat the unwarped clone on the proxy
    eq: object                    # the spectral_match.Fitted to apply after the warp (None: no EQ)
    similarity_before: float      # the best unwarped proxy (the EQ-only clone)
    similarity_after: float
    scores: dict                  # α → best proxy score with that α (for the report)
    fit_s: float = 0.0            # wall clock of the fit (set by the caller)

    def report(self) -> dict:
        out = {"alpha": self.alpha, "similarityBefore": round(self.similarity_before, 4),
               "similarityAfter": round(self.similarity_after, 4),
               "scores": {f"{a:.2f}": round(s, 4) for a, s in sorted(self.scores.items())},
               "fitS": round(self.fit_s, 2)}
        if self.alpha is not None and self.eq is not None:
            out["eq"] = {"frames": self.eq.frames, "strength": self.eq.strength}
        return out


def fit(proxy: np.ndarray, rate: int, score: Callable[[list[np.ndarray], int], Sequence[float]], *,
        before: float, eq=None, refit: Callable[[np.ndarray, float], object] | None = None,
        alphas: Sequence[float] = ALPHAS, max_alpha: float = MAX_ALPHA, margin: float = MARGIN) -> Fitted:
    """Choose α for a clone from its ``proxy`` speech.

    ``score(clips, rate)`` → one number per clip (GE2E similarity to the reference); ``before``: the best score of
    the unwarped proxy (with its EQ if one was kept); ``eq``: that kept EQ (a ``spectral_match.Fitted`` with a
    curve, or None); ``refit(warped, warped_score)`` → a ``spectral_match.Fitted`` for the warped proxy (its own EQ
    fit, "none" if no curve helps) or None. Steps: every α alone and followed by ``eq`` in one scoring batch; the
    best α's warped proxy refitted; kept if the best combination beats ``before`` by more than ``margin``.
    Candidates above ``max_alpha`` (e.g. ``FEMALE_MAX_ALPHA`` for a female clone) are not tried."""
    from . import spectral_match

    alphas = [float(np.clip(a, MIN_ALPHA, MAX_ALPHA)) for a in alphas if abs(a - 1.0) > 1e-6 and a <= max_alpha]
    curve = getattr(eq, "curve", None)
    warped = {a: warp(proxy, rate, a) for a in alphas}
    clips, keys = [], []
    for a in alphas:
        clips.append(warped[a])
        keys.append((a, None))
        if curve is not None:
            clips.append(spectral_match.apply(warped[a], rate, curve))
            keys.append((a, eq))
    values = [float(v) for v in score(clips, rate)]
    scores: dict[float, float] = {}
    best = (-math.inf, None, None)                         # score, alpha, eq
    for (a, e), v in zip(keys, values, strict=True):
        scores[a] = max(scores.get(a, -math.inf), v)
        if v > best[0]:
            best = (v, a, e)
    if refit is not None and best[1] is not None:
        alone = next(v for (a, e), v in zip(keys, values, strict=True) if a == best[1] and e is None)
        refitted = refit(warped[best[1]], alone)
        if refitted is not None and refitted.curve is not None and refitted.similarity_after > best[0]:
            best = (refitted.similarity_after, best[1], refitted)
            scores[best[1]] = refitted.similarity_after
    if best[1] is None or not best[0] > before + margin:
        return Fitted(None, None, float(before), float(before), scores)
    return Fitted(best[1], best[2], float(before), float(best[0]), scores)


def alpha_of(profile: dict | None) -> float | None:
    """The warp factor stored in a profile (``profile["formantWarp"]["alpha"]``), or None if it has none. Raises
    ``invalid_profile`` for a malformed one (not a finite number within ``MIN_ALPHA``-``MAX_ALPHA``)."""
    if not isinstance(profile, dict) or profile.get(PROFILE_KEY) is None:
        return None
    block = profile[PROFILE_KEY]
    try:
        alpha = float(block["alpha"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VoicekitError("invalid_profile", f"profile.{PROFILE_KEY} needs a number 'alpha'") from exc
    if not math.isfinite(alpha) or not MIN_ALPHA - 1e-9 <= alpha <= MAX_ALPHA + 1e-9:
        raise VoicekitError("invalid_profile", f"profile.{PROFILE_KEY}.alpha must be within {MIN_ALPHA}-{MAX_ALPHA}")
    return alpha
