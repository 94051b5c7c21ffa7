"""Frame-by-frame spectral conversion of a Kokoro clone toward the speaker's own recorded frames (exemplar matching).

A clone's style recipe stays on the manifold of Kokoro's stock voices and the long-term EQ
(:mod:`voicekit.spectral_match`) only moves its *average* spectrum; the speaker's formants, sound by sound, are
still a stock voice's. This module moves each frame's spectral envelope toward the envelopes the *speaker*
produced for similar sounds, in the spirit of exemplar / kNN voice conversion (kNN-VC, Baas et al. 2023, there
with WavLM features; here with envelope cepstra, which need no model):

- **Enrolment** (:func:`learn`): the reference's CheapTrick envelopes (:mod:`voicekit.vocoder`, 5 ms frames) on
  ``GRID`` mel-spaced points up to the reference's bandwidth (a telephone recording has nothing above ≈ 3.7 kHz, so
  nothing is changed there), loud frames only, clustered per voicing class (k-means) into a small **codebook** of
  level-free dB shapes, 8-bit in the profile (≈ 7 KB of JSON: profiles stay under ``profile.MAX_PROFILE_BYTES``),
  with the reference's cepstral mean and spread.
- **Synthesis** (:func:`apply`): each 10 ms frame of Kokoro's output is matched to its ``K`` nearest codebook shapes of
  its voicing class by mean-and-variance-normalised cepstra (each side by its own statistics, so the matching is
  about the *sound*, not the voice), their average shape (level of the frame kept) is the frame's target; the
  difference, × ``mix``, smoothed over 30 ms, bounded to ±``MAX_DB``, faded out toward the band edge, is applied as
  a time-varying filter to Kokoro's STFT (its own phase and excitation kept: no vocoder resynthesis, which costs
  ≈ 0.3 DNSMOS here).

- **By phone** (session 9): enrolment also keeps the reference's loud frames every 10 ms (up to ``MAX_EXEMPLARS``)
  with the phone pocketsphinx hears in each (:class:`voicekit.intelligibility.PhoneLabeller`, an all-phone search
  that labels any language with US-English phones), and synthesis labels Kokoro's output — by aligning the words
  it says when they are English (session 10), else by the same search: a frame is then matched among the speaker's
  own frames *of the same phone and voicing* (when there are ``MIN_PHONE_FRAMES``), else in its voicing class as
  above. On 12 real speakers, against cepstra alone: ECAPA +0.022, CAM++ +0.018, GE2E +0.008, WER −1.2 points
  (docs/voice-quality.md). The profile grows to ≈ 85-90 KB (zlib-compressed 8-bit frames).

Measured on 6 real speakers (docs/voice-quality.md, "Exemplar matching"): similarity rises on GE2E and on the two
encoders that are never optimised, at some cost in word error rate, hence ``mix`` < 1 (smaller still for a short
reference, :func:`mix_for`) and the enrolment check in :mod:`voicekit.kokoro_enrol`. Pure numpy;
:func:`of_profile` reads and checks a profile's block (``invalid_profile`` if malformed).
"""
from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass

import numpy as np

from . import vocoder
from .conversion import mel, mel_to_hz
from .errors import VoicekitError
from .intelligibility import PHONES, PhoneLabeller

GRID = 32                    # mel-spaced envelope points from LOW_HZ to the reference's band edge
LOW_HZ = 80.0
CEPSTRA = 16                 # matching features: DCT of the dB grid, c1..c16 (c0, the level, left out)
VOICED_CODES, UNVOICED_CODES = 128, 32
K = 4                        # codebook shapes averaged per frame
MAX_EXEMPLARS = 2000         # labelled reference frames kept (every 10 ms: 20 s of loud speech)
MIN_PHONE_FRAMES = 8         # a (phone, voicing) with fewer labelled frames is matched in its voicing class
MIX = 0.6                    # fraction of the way to the target (1: all the way; measured WER cost grows with it)
# A short reference has few frames of each phone, so more frames are matched outside their phone (by cepstra, which
# costs words): 3 s references at mix 0.6 lost 7.6 WER points more than 20 s ones, at 0.45 1.5 points fewer, for
# 0.012 less GE2E and 0.011 less ECAPA (docs/voice-quality.md, "Short references"). So the mix rises from MIX_SHORT
# at SHORT_EXEMPLARS labelled frames (≈ 3 s of loud speech) to MIX at FULL_EXEMPLARS (≈ 6 s, measured as good as 20 s).
MIX_SHORT = 0.45
SHORT_EXEMPLARS, FULL_EXEMPLARS = 250, 500
MAX_DB = 12.0
APPLY_FRAME_S = 0.010        # synthesis analyses (and filters) every 10 ms: half the cost of 5 ms, same scores
SMOOTH_FRAMES = 3            # 30 ms moving average of the gain
FLOOR_DB = 50.0              # reference frames quieter than this below the loudest are not exemplars
BAND_DROP_DB = 55.0          # band edge: the highest frequency whose long-term level is within this of the peak
MIN_TOP_HZ, MAX_TOP_HZ = 2500.0, 11000.0
STEP_DB = 0.5                # codebook quantisation
PROFILE_KEY = "exemplarMatch"
_EPS = 1e-12
_DB = 10.0 / math.log(10.0)


@dataclass(frozen=True)
class Exemplars:
    """Loud frames of the reference as they were, with the phone heard in each: ``shapes_db`` [n, GRID]
    (level-free dB), ``phones`` [n] (``intelligibility.PHONES`` index + 1) and ``voiced`` [n]. In the profile the
    8-bit shapes are zlib-compressed."""

    shapes_db: np.ndarray
    phones: np.ndarray
    voiced: np.ndarray

    def to_dict(self) -> dict:
        codes = np.clip(np.round(self.shapes_db / STEP_DB), -127, 127).astype(np.int8)
        return {"shapes": base64.b64encode(zlib.compress(codes.tobytes(), 9)).decode("ascii"),
                "phones": base64.b64encode(self.phones.astype(np.uint8).tobytes()).decode("ascii"),
                "voiced": base64.b64encode(np.packbits(self.voiced).tobytes()).decode("ascii")}

    @classmethod
    def from_dict(cls, data: dict, grid: int) -> "Exemplars":
        phones = np.frombuffer(base64.b64decode(data["phones"], validate=True), dtype=np.uint8).copy()
        n = len(phones)
        try:   # bounded: a block that inflates past n rows stops there
            raw = zlib.decompressobj().decompress(base64.b64decode(data["shapes"], validate=True), n * grid + 1)
        except zlib.error as exc:
            raise ValueError(f"exemplar shapes: {exc}") from exc
        voiced = np.unpackbits(np.frombuffer(base64.b64decode(data["voiced"], validate=True), dtype=np.uint8))
        if (len(raw) != n * grid or len(voiced) < n or not 1 <= n <= MAX_EXEMPLARS
                or int(phones.max()) > len(PHONES)):
            raise ValueError(f"exemplars: 1-{MAX_EXEMPLARS} frames of {grid} points, a voicing flag and a known "
                             "phone each")
        shapes = np.frombuffer(raw, dtype=np.int8).astype(np.float64).reshape(n, grid) * STEP_DB
        return cls(shapes_db=shapes, phones=phones, voiced=voiced[:n].astype(bool))


@dataclass(frozen=True)
class Codebook:
    """The speaker's envelope shapes: ``shapes_db`` [codes, GRID] (level-free dB on ``grid_hz``), ``voiced``
    [codes] bool, and the cepstral statistics of the reference's frames (``cep_mean``, ``cep_std`` [CEPSTRA])."""

    top_hz: float
    shapes_db: np.ndarray
    voiced: np.ndarray
    cep_mean: np.ndarray
    cep_std: np.ndarray
    exemplars: Exemplars | None = None   # the reference's own frames by phone (``learn`` with a labeller)

    @property
    def grid_hz(self) -> np.ndarray:
        return grid_hz(self.top_hz)

    def to_dict(self) -> dict:
        codes = np.clip(np.round(self.shapes_db / STEP_DB), -127, 127).astype(np.int8)
        out = {"topHz": round(float(self.top_hz), 1), "grid": GRID, "stepDb": STEP_DB,
               "voiced": [int(v) for v in self.voiced],
               "shapes": base64.b64encode(codes.tobytes()).decode("ascii"),
               "cepMean": [round(float(v), 3) for v in self.cep_mean],
               "cepStd": [round(float(v), 3) for v in self.cep_std]}
        if self.exemplars is not None:
            out["exemplars"] = self.exemplars.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Codebook":
        voiced = np.asarray(data["voiced"], dtype=np.int64)
        codes = np.frombuffer(base64.b64decode(data["shapes"], validate=True), dtype=np.int8)
        shapes = codes.astype(np.float64).reshape(len(voiced), int(data["grid"])) * float(data["stepDb"])
        exemplars = None if data.get("exemplars") is None else Exemplars.from_dict(data["exemplars"], shapes.shape[1])
        return cls(top_hz=float(data["topHz"]), shapes_db=shapes, voiced=voiced.astype(bool),
                   cep_mean=np.asarray(data["cepMean"], dtype=np.float64),
                   cep_std=np.asarray(data["cepStd"], dtype=np.float64), exemplars=exemplars)


def grid_hz(top_hz: float, points: int = GRID) -> np.ndarray:
    return mel_to_hz(np.linspace(float(mel(LOW_HZ)), float(mel(top_hz)), points))


def _dct_basis(points: int = GRID, count: int = CEPSTRA) -> np.ndarray:
    k = np.arange(points)
    return np.cos(np.pi / points * (k[None, :] + 0.5) * np.arange(1, count + 1)[:, None])


def cepstra(shapes_db: np.ndarray) -> np.ndarray:
    """Rows of dB grids → c1..c``CEPSTRA`` (the level c0 left out)."""
    return np.asarray(shapes_db, dtype=np.float64) @ _dct_basis(shapes_db.shape[1]).T


def on_grid_db(env: np.ndarray, rate: int, fft_size: int, points_hz: np.ndarray) -> np.ndarray:
    """Power envelopes [frames, bins] → dB at ``points_hz`` (linear interpolation between bins)."""
    position = np.asarray(points_hz, dtype=np.float64) / (rate / fft_size)
    low = np.clip(np.floor(position).astype(np.int64), 0, env.shape[1] - 2)
    frac = np.clip(position - low, 0.0, 1.0)
    log_env = np.log(np.maximum(env, _EPS)) * _DB
    return log_env[:, low] * (1.0 - frac) + log_env[:, low + 1] * frac


def analyse(samples: np.ndarray, rate: int, frame_s: float = vocoder.FRAME_PERIOD_S
            ) -> tuple[np.ndarray, np.ndarray, int, int]:
    """F0-adaptive envelopes and voicing every ``frame_s``: (envelope [frames, bins], voiced [frames], hop, fft)."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    hop = max(1, int(round(frame_s * rate)))
    fft_size = vocoder.fft_size_for(rate)
    f0 = vocoder.f0_track(x.astype(np.float32), rate, hop)
    return vocoder.envelope(x, f0, rate, hop, fft_size), f0 > 0, hop, fft_size


def band_edge(samples: np.ndarray, rate: int, frame: int = 1024) -> float:
    """The highest frequency whose long-term level (Welch: Hann frames of ``frame`` samples, half overlap — sharp
    enough that a band limit is not smeared) is within ``BAND_DROP_DB`` of the peak, less 6 %, bounded."""
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    if len(x) < frame:
        return MIN_TOP_HZ
    starts = np.arange(0, len(x) - frame + 1, frame // 2)
    segments = x[starts[:, None] + np.arange(frame)[None, :]] * np.hanning(frame)
    ltas = np.log(np.maximum((np.abs(np.fft.rfft(segments, axis=1)) ** 2).mean(axis=0), _EPS)) * _DB
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    inside = np.nonzero(ltas >= ltas.max() - BAND_DROP_DB)[0]
    top = float(freqs[inside[-1]]) * 0.94 if inside.size else MIN_TOP_HZ
    return float(np.clip(top, MIN_TOP_HZ, min(MAX_TOP_HZ, 0.94 * rate / 2.0)))


def _kmeans(rows: np.ndarray, codes: int, iterations: int = 15, seed: int = 0) -> np.ndarray:
    if len(rows) <= codes:
        return rows.copy()
    rng = np.random.default_rng(seed)
    centres = rows[rng.choice(len(rows), codes, replace=False)].copy()
    for _ in range(iterations):
        d = (rows ** 2).sum(1)[:, None] - 2.0 * rows @ centres.T + (centres ** 2).sum(1)[None, :]
        nearest = np.argmin(d, axis=1)
        for c in range(codes):
            members = rows[nearest == c]
            if len(members):
                centres[c] = members.mean(axis=0)
    return centres


def learn(reference: np.ndarray, rate: int, labeller: PhoneLabeller | None = None) -> Codebook:
    """The speaker's codebook from a (screened) reference. With a ``labeller`` it also keeps the reference's loud
    frames with their phones (``Exemplars``), so that a clone's frame is matched to the speaker's own frames *of the
    same sound*. Raises ``reference_unusable`` when it has too few loud voiced frames to learn from (< 0.5 s)."""
    env, voiced, _, fft_size = analyse(reference, rate)
    top = band_edge(reference, rate)
    db = on_grid_db(env, rate, fft_size, grid_hz(top))
    level = db.mean(axis=1)
    power = env.mean(axis=1)
    loud = power >= power.max() * 10.0 ** (-FLOOR_DB / 10.0)
    if (loud & voiced).sum() < 100:
        raise VoicekitError("reference_unusable", "the reference has under 0.5 s of loud voiced speech to learn from")
    shapes = db - level[:, None]
    cep = cepstra(shapes[loud])
    stats = {"top_hz": top, "cep_mean": cep.mean(axis=0), "cep_std": cep.std(axis=0) + 1e-6}
    parts, flags = [], []
    for is_voiced, codes in ((True, VOICED_CODES), (False, UNVOICED_CODES)):
        rows = shapes[loud & (voiced == is_voiced)]
        if len(rows) >= K:
            centres = _kmeans(rows, codes)
            parts.append(centres)
            flags += [is_voiced] * len(centres)
    exemplars = None
    if labeller is not None:
        labels = labeller.label(reference, rate, len(shapes), vocoder.FRAME_PERIOD_S)
        kept = np.nonzero(loud & (labels > 0))[0][::2]              # every 10 ms
        if len(kept) > MAX_EXEMPLARS:
            kept = kept[np.round(np.linspace(0, len(kept) - 1, MAX_EXEMPLARS)).astype(np.int64)]
        if len(kept):
            exemplars = Exemplars(shapes_db=shapes[kept], phones=labels[kept].astype(np.uint8), voiced=voiced[kept])
    return Codebook(shapes_db=np.concatenate(parts), voiced=np.asarray(flags, dtype=bool), exemplars=exemplars,
                    **stats)


def target_gain_db(source_db: np.ndarray, source_voiced: np.ndarray, book: Codebook, k: int = K,
                   source_phones: np.ndarray | None = None) -> np.ndarray:
    """Per frame and grid point, the dB change that brings the source's shape to the mean of its ``k`` nearest
    shapes (level kept): the speaker's own frames of the same phone and voicing when both sides are labelled and
    the reference has ``MIN_PHONE_FRAMES`` of them, else the codebook's shapes of the frame's voicing class."""
    level = source_db.mean(axis=1, keepdims=True)
    shapes = source_db - level
    cep = cepstra(shapes)
    cep = (cep - cep.mean(axis=0)) / (cep.std(axis=0) + 1e-6)
    labelled = book.exemplars is not None and source_phones is not None
    pools = {False: (book.shapes_db, book.voiced, np.zeros(len(book.voiced), np.uint8))}
    if labelled:
        pools[True] = (book.exemplars.shapes_db, book.exemplars.voiced, book.exemplars.phones)
    pool_ceps = {key: (cepstra(pool[0]) - book.cep_mean) / book.cep_std for key, pool in pools.items()}
    gain = np.zeros_like(source_db)
    groups: dict[tuple[int, bool], list[int]] = {}
    for row, is_voiced in enumerate(source_voiced):
        groups.setdefault((int(source_phones[row]) if labelled else 0, bool(is_voiced)), []).append(row)
    for (phone, is_voiced), members in groups.items():
        by_phone = False
        if phone:
            codes = np.nonzero((pools[True][2] == phone) & (pools[True][1] == is_voiced))[0]
            by_phone = len(codes) >= MIN_PHONE_FRAMES
        if not by_phone:
            codes = np.nonzero(pools[False][1] == is_voiced)[0]
        if not codes.size:
            continue
        pool_db, pool_cep = pools[by_phone][0], pool_ceps[by_phone]
        rows = np.asarray(members)
        kk = min(k, codes.size)
        d = ((cep[rows, None, :] - pool_cep[None, codes, :]) ** 2).sum(axis=-1)
        nearest = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        target = pool_db[codes][nearest].mean(axis=1)
        target -= target.mean(axis=1, keepdims=True)
        gain[rows] = target - shapes[rows]
    return gain


def _stft_filter(x: np.ndarray, gains: np.ndarray, hop: int, n_fft: int, block: int = 256) -> np.ndarray:
    """``x``'s STFT (Hann, frames centred at ``i * hop``) times the linear gains [frames, n_fft // 2 + 1], then
    weighted overlap-add; same length as ``x``."""
    window = np.hanning(n_fft + 2)[1:-1]
    pad = n_fft // 2
    frames = len(gains)
    xp = np.pad(x, (pad, pad + n_fft + frames * hop))
    out = np.zeros(len(xp))
    norm = np.zeros(len(xp))
    for first in range(0, frames, block):
        idx = np.arange(first, min(frames, first + block))
        starts = idx * hop
        segments = xp[starts[:, None] + np.arange(n_fft)[None, :]] * window
        pieces = np.fft.irfft(np.fft.rfft(segments, axis=1) * gains[idx], n_fft, axis=1) * window
        for row, start in enumerate(starts):
            out[start:start + n_fft] += pieces[row]
            norm[start:start + n_fft] += window ** 2
    return (out / np.maximum(norm, 1e-3))[pad:pad + len(x)]


def apply(samples: np.ndarray, rate: int, book: Codebook | None, mix: float = MIX, peak: float = 0.99,
          labeller: PhoneLabeller | None = None, transcript: str | None = None) -> np.ndarray:
    """``samples`` (a clone's speech) with each frame's envelope moved ``mix`` of the way toward the speaker's
    matching shapes; same length. A codebook learnt per phone is matched per phone when a ``labeller`` labels the
    frames (aligning ``transcript``, the English words spoken, when given). No codebook, ``mix`` 0 or empty audio:
    returned unchanged (the same array)."""
    if book is None or mix <= 0.0 or len(samples) == 0:
        return samples
    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    env, voiced, hop, fft_size = analyse(x, rate, APPLY_FRAME_S)
    points = book.grid_hz
    phones = (labeller.label(x, rate, len(env), APPLY_FRAME_S, transcript)
              if labeller and book.exemplars is not None else None)
    gain_db = target_gain_db(on_grid_db(env, rate, fft_size, points), voiced, book, source_phones=phones) * float(mix)
    if SMOOTH_FRAMES > 1 and len(gain_db) > SMOOTH_FRAMES:
        kernel = np.ones(SMOOTH_FRAMES) / SMOOTH_FRAMES
        gain_db = np.apply_along_axis(lambda column: np.convolve(column, kernel, mode="same"), 0, gain_db)
    gain_db = np.clip(gain_db, -MAX_DB, MAX_DB)
    # onto the STFT's bins: mel interpolation inside the band, faded to 0 dB over its top 10 % and beyond
    n_fft = 1 << int(math.ceil(math.log2(0.04 * rate)))
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    fade = np.clip((book.top_hz - freqs) / (0.1 * book.top_hz), 0.0, 1.0)
    mel_freqs, mel_points = mel(freqs), mel(points)
    bins_db = np.stack([np.interp(mel_freqs, mel_points, row) for row in gain_db]) * fade
    y = _stft_filter(x, 10.0 ** (bins_db / 20.0), hop, n_fft)   # a power change of G dB: amplitude × 10^(G/20)
    top = float(np.abs(y).max())
    if top > peak:
        y *= peak / top
    return y.astype(np.float32)


def of_profile(profile: dict | None) -> tuple[Codebook, float] | None:
    """The codebook and mix stored in a profile (``profile["exemplarMatch"]``), or None. Raises ``invalid_profile``
    for a malformed block."""
    if not isinstance(profile, dict) or profile.get(PROFILE_KEY) is None:
        return None
    block = profile[PROFILE_KEY]
    try:
        book = Codebook.from_dict(block["codebook"])
        mix = float(block["mix"])
    except (KeyError, TypeError, ValueError) as exc:
        raise VoicekitError("invalid_profile", f"profile.{PROFILE_KEY} needs 'mix' and a 'codebook' with topHz, "
                                               "grid, stepDb, voiced, shapes (base64 int8), cepMean, cepStd") from exc
    if not (0.0 <= mix <= 1.0 and math.isfinite(book.top_hz) and MIN_TOP_HZ <= book.top_hz <= MAX_TOP_HZ
            and 2 <= book.shapes_db.shape[1] <= 128 and 1 <= len(book.voiced) <= 512
            and (book.exemplars is None or book.exemplars.shapes_db.shape[1] == book.shapes_db.shape[1])
            and book.cep_mean.shape == (CEPSTRA,) and book.cep_std.shape == (CEPSTRA,)
            and np.all(np.isfinite(book.cep_mean)) and np.all(book.cep_std > 0)):
        raise VoicekitError("invalid_profile", f"profile.{PROFILE_KEY} is out of range: mix 0-1, topHz "
                                               f"{MIN_TOP_HZ:.0f}-{MAX_TOP_HZ:.0f}, 1-512 shapes, {CEPSTRA} cepstra")
    return book, mix


def mix_for(book: Codebook) -> float:
    """How far a clone's frames go toward this speaker's: ``MIX``, less for a short reference (see ``MIX_SHORT``);
    ``MIX`` for a codebook learnt without phone labels."""
    if book.exemplars is None:
        return MIX
    filled = (len(book.exemplars.phones) - SHORT_EXEMPLARS) / (FULL_EXEMPLARS - SHORT_EXEMPLARS)
    return MIX_SHORT + (MIX - MIX_SHORT) * float(np.clip(filled, 0.0, 1.0))


def to_profile(book: Codebook, mix: float) -> dict:
    return {"mix": round(float(mix), 3), "codebook": book.to_dict()}
