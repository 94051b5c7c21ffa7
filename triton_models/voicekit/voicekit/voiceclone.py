"""Cloning a voice from a reference recording: choose a system voice and tune the conversion on the reference.

Nothing here needs the reference's transcript. The system voices speak fixed *proxy* sentences (``PROXY_TEXT``,
phonetically varied; rendered once per process and cached with their vocoder analysis), the candidate
conversions of that speech are resynthesised, and each candidate is scored by the cosine between its GE2E
speaker embedding and the reference's (both at a fixed level, so gain does not matter). The search:

1. every allowed system voice with the F0 mapping, the warp that best aligns its average envelope with the
   reference's, and full EQ → the best voice (also reported: each voice's similarity unconverted);
2. coordinate search on that voice: warp, EQ strength, F0 range, breathiness — each a few candidates, kept when
   they raise the similarity;

until the candidates run out or ``budget_s`` is spent (measured: see docs/voice-quality.md). The result is the
``conversion`` block of the voice profile (:mod:`voicekit.profile`).
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from . import conversion, speaker_encoder, vocoder
from .conversion import Settings
from .flite import Flite
from .pcm import join_segments

# The system voices a clone may start from. kal16 (a diphone voice) is not among them: its rough excitation
# vocodes poorly (round-trip DNSMOS 2.96 → 2.33; awb, rms: unchanged) and clones made from it lost words
# (pocketsphinx WER 50-60 % vs 31 % from awb on the same target).
BASE_VOICES = ("slt", "awb", "rms")
PROXY_TEXT = (
    "A large size in stockings is hard to sell.",
    "The juice of lemons makes fine punch.",
    "Four hours of steady work faced us.",
    "The boy was there when the sun rose.",
    "Her purse was full of useless trash.",
    "Cats and dogs each hate the other.",
)
DEFAULT_BUDGET_S = 20.0
# The tuner's warp range: wider warps (e.g. 1.3, a male voice made female) score a little higher on speaker
# similarity but cost intelligibility badly (pocketsphinx WER 30 % → 65 % on the benchmark's slt target).
WARP_RANGE = (0.87, 1.15)
# The unvoiced frames' EQ is bounded tighter than the voiced frames' (±12 dB): boosting a target's bright fricatives
# fully into the system voice's unvoiced frames cost words (espeak-ng target: WER 31 % → 48 %; ±6 dB: 35 %) for
# little similarity.
UNVOICED_MAX_EQ_DB = 6.0


@dataclass(frozen=True)
class Speech:
    """One speaker's analysed speech: vocoder features, long-term statistics and the embedding."""

    samples: np.ndarray
    sample_rate: int
    features: vocoder.Features
    f0: tuple[float, float]            # mean, std of ln F0 (vocoder track)
    voiced_db: np.ndarray | None       # average envelope, dB on the conversion grid
    unvoiced_db: np.ndarray | None
    rms: float                         # active RMS
    embedding: np.ndarray              # fixed-level GE2E


def f0_stats(f0: np.ndarray) -> tuple[float, float] | None:
    voiced = f0[f0 > 0]
    if voiced.size < 10:
        return None
    logs = np.log(voiced)
    median = float(np.median(logs))
    mad = 1.4826 * float(np.median(np.abs(logs - median)))
    keep = logs[np.abs(logs - median) <= max(3.0 * mad, 0.35)]
    return float(keep.mean()), float(max(keep.std(), 0.02))


def analyse(samples: np.ndarray, sample_rate: int, embedding: np.ndarray | None = None,
            max_seconds: float = 60.0) -> Speech:
    """Vocoder analysis + statistics of a speaker's speech (the first ``max_seconds`` of it)."""
    x = np.asarray(samples, dtype=np.float32)[: int(max_seconds * sample_rate)]
    features = vocoder.analyze(x, sample_rate)
    stats = f0_stats(features.f0) or (math.log(120.0), 0.1)
    if embedding is None:
        embedding = speaker_encoder.embed(x, sample_rate, fixed_level=True)
    return Speech(samples=x, sample_rate=sample_rate, features=features, f0=stats,
                  voiced_db=conversion.average_envelope_db(features, voiced=True),
                  unvoiced_db=conversion.average_envelope_db(features, voiced=False),
                  rms=conversion.active_rms(x, sample_rate), embedding=np.asarray(embedding, dtype=np.float64))


class BaseBank:
    """The system voices speaking ``PROXY_TEXT``, analysed once per process (thread-safe, lazy)."""

    def __init__(self, flite: Flite | None = None) -> None:
        self.flite = flite or Flite()
        self._cache: dict[str, Speech] = {}
        self._lock = threading.Lock()

    def get(self, voice: str) -> Speech:
        with self._lock:
            cached = self._cache.get(voice)
            if cached is None:
                parts = [self.flite.synthesize(sentence, voice) for sentence in PROXY_TEXT]
                rate = parts[0][1]
                audio = join_segments([p for p, _ in parts], rate, gap_s=0.25)
                cached = self._cache[voice] = analyse(audio, rate)
            return cached


_default_bank: BaseBank | None = None
_bank_lock = threading.Lock()


def default_bank() -> BaseBank:
    global _default_bank
    with _bank_lock:
        if _default_bank is None:
            _default_bank = BaseBank()
        return _default_bank


def best_warp(source_db: np.ndarray | None, target_db: np.ndarray | None, sample_rate: int) -> float:
    """The warp factor (within ``WARP_RANGE``) whose warped source average envelope correlates best with the
    target's."""
    if source_db is None or target_db is None:
        return 1.0
    best, best_score = 1.0, -np.inf
    target = target_db - target_db.mean()
    for alpha in np.arange(WARP_RANGE[0], WARP_RANGE[1] + 1e-6, 0.01):
        warped = conversion.warp_grid(source_db, float(alpha), sample_rate)
        warped = warped - warped.mean()
        score = float(warped @ target / (np.linalg.norm(warped) * np.linalg.norm(target) + 1e-9))
        if score > best_score:
            best, best_score = float(alpha), score
    return best


def settings_for(base: Speech, target: Speech, warp: float, eq_strength: float = 1.0, f0_range: float = 1.0,
                 breathiness: float = 1.0) -> Settings:
    """Conversion settings from ``base`` to ``target``; the EQ is computed for the warped base voice."""
    rate = base.sample_rate
    eq_v = eq_u = ()
    if base.voiced_db is not None and target.voiced_db is not None:
        eq_v = tuple(conversion.eq_curve(target.voiced_db, conversion.warp_grid(base.voiced_db, warp, rate),
                                         eq_strength))
    if base.unvoiced_db is not None and target.unvoiced_db is not None:
        eq_u = tuple(conversion.eq_curve(target.unvoiced_db, conversion.warp_grid(base.unvoiced_db, warp, rate),
                                         eq_strength, max_db=UNVOICED_MAX_EQ_DB))
    return Settings(source_f0=base.f0, target_f0=target.f0, warp=warp, f0_range=f0_range, eq_voiced_db=eq_v,
                    eq_unvoiced_db=eq_u, breathiness=breathiness)


def render(base: Speech, settings: Settings) -> np.ndarray:
    return vocoder.synthesize(conversion.convert(base.features, settings))


def similarity(base: Speech, settings: Settings, target: Speech) -> float:
    audio = render(base, settings)
    embedding = speaker_encoder.embed(audio, base.sample_rate, fixed_level=True)
    return speaker_encoder.cosine(embedding, target.embedding)


@dataclass
class Tuned:
    voice: str
    settings: Settings
    eq_strength: float
    similarity: float
    base_similarity: dict[str, float]
    converted_similarity: dict[str, float]
    evaluations: int
    seconds: float
    budget_exhausted: bool

    def report(self) -> dict:
        return {"baseVoice": self.voice, "similarity": round(self.similarity, 4),
                "eqStrength": round(self.eq_strength, 3),
                "baseVoiceSimilarity": {k: round(v, 4) for k, v in self.base_similarity.items()},
                "convertedSimilarity": {k: round(v, 4) for k, v in self.converted_similarity.items()},
                "evaluations": self.evaluations, "tuneS": round(self.seconds, 2),
                "budgetExhausted": self.budget_exhausted}


def tune(target: Speech, bank: BaseBank | None = None, voices: tuple[str, ...] = BASE_VOICES,
         budget_s: float = DEFAULT_BUDGET_S) -> Tuned:
    """Choose the system voice and conversion settings that make the proxy speech most similar to ``target``."""
    bank = bank or default_bank()
    started = time.monotonic()
    evaluations = 0
    exhausted = False

    def out_of_time() -> bool:
        return time.monotonic() - started > budget_s

    bases = {voice: bank.get(voice) for voice in voices}
    base_similarity = {v: speaker_encoder.cosine(b.embedding, target.embedding) for v, b in bases.items()}
    converted: dict[str, float] = {}
    state: dict[str, dict] = {}
    for voice, base in bases.items():
        warp = best_warp(base.voiced_db, target.voiced_db, base.sample_rate)
        params = {"warp": warp, "eq_strength": 1.0, "f0_range": 1.0, "breathiness": 1.0}
        converted[voice] = similarity(base, settings_for(base, target, **params), target)
        state[voice] = params
        evaluations += 1
    voice = max(converted, key=converted.get)
    params, best = dict(state[voice]), converted[voice]
    base = bases[voice]

    steps = [("warp", (0.95, 1.05), "mul"), ("eq_strength", (0.6, 1.4), "set"), ("warp", (0.975, 1.025), "mul"),
             ("f0_range", (0.7, 1.3), "set"), ("breathiness", (0.75, 1.25), "set")]
    for name, candidates, mode in steps:
        for value in candidates:
            if out_of_time():
                exhausted = True
                break
            trial = dict(params)
            trial[name] = params[name] * value if mode == "mul" else value
            if name == "warp":
                trial["warp"] = float(np.clip(trial["warp"], *WARP_RANGE))
                if abs(trial["warp"] - params["warp"]) < 1e-4:
                    continue
            score = similarity(base, settings_for(base, target, **trial), target)
            evaluations += 1
            if score > best:
                best, params = score, trial
        if exhausted:
            break
    settings = settings_for(base, target, **params)
    return Tuned(voice=voice, settings=settings, eq_strength=params["eq_strength"], similarity=best,
                 base_similarity=base_similarity, converted_similarity=converted, evaluations=evaluations,
                 seconds=time.monotonic() - started, budget_exhausted=exhausted)


SEGMENT_S = 20.0  # long audio is converted in pieces cut at quiet points: memory stays ~100 MB for any length


def split_points(audio: np.ndarray, sample_rate: int, max_s: float = SEGMENT_S) -> list[int]:
    """Cut positions (samples) that split ``audio`` into pieces ≤ ``max_s``, each at the quietest 20 ms of the
    last half of its piece (between sentences, the joined speech has 0.3 s pauses)."""
    limit = int(max_s * sample_rate)
    frame = max(1, int(0.02 * sample_rate))
    cuts: list[int] = []
    start = 0
    while len(audio) - start > limit:
        lo, hi = start + limit // 2, start + limit
        count = (hi - lo) // frame
        energy = (audio[lo: lo + count * frame].astype(np.float64).reshape(count, frame) ** 2).mean(axis=1)
        cut = lo + int(np.argmin(energy)) * frame + frame // 2
        cuts.append(cut)
        start = cut
    return cuts


def synthesize_converted(audio: np.ndarray, sample_rate: int, settings: Settings | None, speed: float = 1.0,
                         duration_s: float | None = None) -> np.ndarray:
    """A system voice's audio → converted (if ``settings``) and time-scaled (``speed`` or a total ``duration_s``),
    with the input's loudness. ``settings`` None, speed 1 and no duration: the input unchanged.

    The conversion is frame-local (the F0 statistics are the profile's, not the utterance's), so long audio is
    processed in pieces cut at quiet points and joined there; the time-scale factor is the same for every piece,
    and the result is trimmed or padded to ``duration_s`` exactly.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if settings is None and abs(speed - 1.0) < 1e-6 and not duration_s:
        return audio
    factor = duration_s / max(len(audio) / sample_rate, 1e-6) if duration_s else 1.0 / speed
    bounds = [0, *split_points(audio, sample_rate), len(audio)]
    pieces = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        features = vocoder.analyze(audio[lo:hi], sample_rate)
        if settings is not None:
            features = conversion.convert(features, settings)
        if abs(factor - 1.0) > 1e-4:
            features = vocoder.time_scale(features, factor)
        piece = vocoder.synthesize(features)
        wanted = int(round((hi - lo) * factor))  # frames round to the hop; keep the piece its exact share
        pieces.append(piece[:wanted] if len(piece) >= wanted else np.pad(piece, (0, wanted - len(piece))))
    out = np.concatenate(pieces)
    if duration_s:
        target = int(round(duration_s * sample_rate))
        out = out[:target] if len(out) >= target else np.pad(out, (0, target - len(out)))
    return conversion.match_loudness(out, conversion.active_rms(audio, sample_rate), sample_rate)


__all__ = ["BASE_VOICES", "PROXY_TEXT", "BaseBank", "Speech", "Tuned", "analyse", "best_warp", "default_bank",
           "render", "settings_for", "similarity", "split_points", "synthesize_converted", "tune"]
