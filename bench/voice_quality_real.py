"""Kokoro clones of REAL speakers: similarity on two encoders, beats-every-other, WER, DNSMOS, RTF, enrolment time.

    .venv/bin/python -m bench.voice_quality_real [--speakers a,b] [--sentences 4] [--held 6] [--budget 50]
                                                 [--reference-s 20] [--enrol-from-s 3] [--include-short]
                                                 [--no-dnsmos] [--no-wer] [--wideband] [--json out.json]

Speakers: ``bench.real_speakers.load()`` (Asterisk IVR prompts, Fish Fillets dialogue, a LibriVox reader; the
three ``short`` ones are skipped unless ``--include-short``). For each speaker, as the service does it:

1. **enrol** the reference (its utterances joined, ≈ 20 s) the ``enroll`` model's way: 16-bit WAV bytes →
   ``decode.decode`` → ``enrolment.screen`` → ``kokoro_enrol.Enroller.enroll`` (budget ``--budget``, default the
   service's ``$VOICEKIT_KOKORO_ENROL_BUDGET_S`` / 50 s, decoding and screening included); wall clock = **enrol s**;
2. **synthesise** the first ``--sentences`` Harvard sentences (``voice_speakers.HELD_OUT_TEXT``, English; with
   ``--own-language`` a French, Italian, Spanish or Portuguese speaker's clone says sentences in that language,
   ``voice_speakers.HELD_OUT_BY_LANGUAGE``, and those have no WER) with
   ``tts.Synthesizer.speak`` — what the ``synthesize`` model runs — with the profile (**clone**) and with the
   clone's nearest stock voice ``engineVoice`` unconverted (**base**, the system voice it starts from);
3. **score** against the speaker's held-out real clips (**own**: other utterances of the same person, the ceiling):
   GE2E (Resemblyzer d-vector, the encoder enrolment optimises) cosine to the reference's embedding; the same with
   **ECAPA-TDNN** (SpeechBrain's VoxCeleb speaker-verification model, ``voicekit/ecapa.py``) and **CAM++**
   (3D-Speaker's Chinese + English model, ``voicekit/campplus.py``): other architectures and training sets. ECAPA
   is **never optimised** — the independent encoder; CAM++ is, since session 22, by the style fit's second speaker
   term (``FitSettings.campplus_weight``; the output says which); and MFCC statistics
   (``bench/mfcc_speaker.py``, never optimised) z-scored against every clip of the run, cosine to the reference's
   statistics. **Channel**: the real recordings are mostly 8 kHz telephone prompts, so every clip
   compared with a speaker's reference first passes through that speaker's band limit (``band_limit``: resampled
   to the recording's native rate and back; wideband sources are untouched) — the clone and base, and other
   speakers' own speech in the beats-every-other test. **Beats every other speaker** (per encoder, the definition
   of ``bench/voice_quality.py``): the clone's mean similarity to its speaker is higher than the mean similarity of
   every *other* real speaker's own held-out speech to that speaker;
4. WER of base and clone (pocketsphinx, ``voice_quality.Recogniser``; own speech has no transcript), DNSMOS OVRL
   (and BAK for own speech: background noise / music) on each condition's clips joined, synthesis RTF.

Most speakers are not English: their clones speak English sentences, so similarity is cross-language (``x-lang``),
unless ``--own-language`` (``said fr``): encoders hear a language change as a speaker change, so that is the fairer
measure of a clone that will speak its speaker's language.
Run against another checkout's code with PYTHONPATH (see docs/voice-quality.md, "Real speakers").
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

RATE = 16000
CONDITIONS = ("own", "base", "clone")
NEURAL = ("ge2e", "ecapa", "campplus")   # speaker encoders scored by embedding cosine
LABEL = {"ge2e": "GE2E", "ecapa": "ECAPA", "campplus": "CAM++", "mfcc": "MFCC"}


# --------------------------------------------------------------------------------------------------- pure parts


def band_limit(samples: np.ndarray, native_rate: int, rate: int = RATE) -> np.ndarray:
    """``samples`` (at ``rate``) through the band of a recording made at ``native_rate``: resampled down to it and
    back (soxr's anti-alias filter is the band limit), same length. Unchanged if ``native_rate >= rate``."""
    x = np.asarray(samples, dtype=np.float32).reshape(-1)
    if native_rate >= rate:
        return x
    import soxr

    y = soxr.resample(soxr.resample(x, rate, native_rate), native_rate, rate).astype(np.float32)
    return np.pad(y, (0, max(0, len(x) - len(y))))[: len(x)]


def beats_every_other(clone: Sequence[float], own: Sequence[Sequence[float]]) -> list[bool]:
    """``own[i][j]``: mean similarity of speaker j's own held-out speech to speaker i's reference; ``clone[i]``:
    clone i's to speaker i's. Clone i beats every other speaker if ``clone[i] > own[i][j]`` for every j ≠ i."""
    n = len(clone)
    out = []
    for i in range(n):
        others = [own[i][j] for j in range(n) if j != i]
        out.append(bool(others) and clone[i] > max(others))
    return out


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


# --------------------------------------------------------------------------------------------------- running


@dataclass
class RealResult:
    name: str
    language: str
    native_rate: int
    reference_s: float
    base_voice: str = ""
    enrol_s: float = 0.0
    proxy_similarity: float = float("nan")
    confidence: str = ""
    evaluations: int = 0
    start: str = ""
    profile_bytes: int = 0
    spectral: dict = field(default_factory=dict)
    ge2e: dict[str, float] = field(default_factory=dict)   # condition → mean cosine to the reference (matched band)
    ge2e_unmatched: float = float("nan")                   # the clone without the band limit
    ecapa: dict[str, float] = field(default_factory=dict)
    campplus: dict[str, float] = field(default_factory=dict)
    mfcc: dict[str, float] = field(default_factory=dict)
    beats: dict[str, bool] = field(default_factory=dict)    # "<encoder>" (clone), "<encoder>_base"
    errors: dict[str, int] = field(default_factory=lambda: {"base": 0, "clone": 0})
    words: int = 0
    dnsmos: dict[str, dict[str, float]] = field(default_factory=dict)
    synth_s: dict[str, float] = field(default_factory=lambda: {"base": 0.0, "clone": 0.0})
    audio_s: dict[str, float] = field(default_factory=lambda: {"base": 0.0, "clone": 0.0})
    refused: str = ""
    spoken: str | None = None  # the language the clone and base said their sentences in (None: English)
    profile: dict = field(default_factory=dict, repr=False)  # the parsed profile synthesis used (not in --json)
    screened: Any = field(default=None, repr=False)  # the enrolment.Screened the enroller got (not in --json)

    @property
    def cross_language(self) -> bool:
        """The clone spoke English while the speaker's recordings are in another language."""
        return self.spoken is None and not self.language.lower().startswith("en")

    @property
    def own_language(self) -> bool:
        """A speaker of another language than English whose clone spoke that language (``--own-language``)."""
        return self.spoken is not None

    def wer(self, condition: str) -> float:
        return self.errors[condition] / max(1, self.words)


def run_speaker(sp, engine, enroller, synthesizer, recogniser, sentences: Sequence[str], with_dnsmos: bool,
                budget_s: float | None, log, enrol_from_s: float | None = None, language: str | None = None):
    """Enrol (from the reference's first ``enrol_from_s`` seconds when given) + synthesise + per-speaker scores. Returns
    (result, clips) with clips[condition] at 16 kHz as the service made them (own: the real held-out clips).
    ``language``: the synthesizer's code the sentences are in (None: English); word errors are counted only for
    English sentences (the recogniser is US English)."""
    from bench import dnsmos, voice_speakers
    from voicekit import decode, enrolment
    from voicekit import profile as voice_profile
    from voicekit.intelligibility import edit_distance, words
    from voicekit.pcm import join_segments, write_wav

    enrolled_from = sp.reference[: int(round(enrol_from_s * RATE))] if enrol_from_s else sp.reference
    result = RealResult(name=sp.name, language=sp.language, native_rate=sp.native_rate,
                        reference_s=len(enrolled_from) / RATE, spoken=language)
    data = write_wav(enrolled_from, RATE)
    started = time.monotonic()
    samples, container = decode.decode(data, rate=enrolment.RATE, max_seconds=enrolment.MAX_DURATION_S)
    screened = enrolment.screen(samples, enrolment.RATE)
    profile, found = enroller.enroll(screened, container, budget=budget_s, started=started)  # as the enroll model
    result.enrol_s = time.monotonic() - started
    profile_json = enrolment.Enrolment(profile, screened.duration_s, profile["engineVoice"]).profile_json
    profile = voice_profile.parse(profile_json)          # what synthesize receives
    result.base_voice = profile["engineVoice"]
    result.profile, result.screened = profile, screened
    result.proxy_similarity, result.confidence = float(found.similarity), found.confidence
    result.evaluations, result.start = int(found.evaluations), str(found.start)
    result.profile_bytes = len(profile_json.encode())
    result.spectral = dict(profile.get("clone", {}).get("spectralMatch") or {})
    log(f"  enrolled in {result.enrol_s:.1f} s ({result.reference_s:.1f} s reference, F0 "
        f"{np.exp(screened.f0.log_mean):.0f} Hz): nearest stock {result.base_voice}, proxy {found.similarity:.3f} "
        f"({found.evaluations} syntheses, start {found.start}, {found.confidence})"
        + (f", spectral match {result.spectral}" if result.spectral else "")
        + (f", intelligibility checks {found.checks}" if found.checks else "")
        + (f", style fit {profile['clone']['styleFit']}" if "styleFit" in profile.get("clone", {}) else ""))
    clips: dict[str, list[np.ndarray]] = {"own": list(sp.held_out), "base": [], "clone": []}
    for text in sentences:
        for condition, prof in (("base", None), ("clone", profile)):
            t0 = time.perf_counter()
            audio, rate = synthesizer.speak(text, result.base_voice, profile=prof, language=language)
            result.synth_s[condition] += time.perf_counter() - t0
            result.audio_s[condition] += len(audio) / rate
            clips[condition].append(voice_speakers._resample(np.asarray(audio, dtype=np.float32), rate))
        if language is not None:
            continue
        expected = words(text)
        result.words += len(expected)
        if recogniser is not None:
            for condition in ("base", "clone"):
                heard = words(recogniser.transcribe(clips[condition][-1]))
                result.errors[condition] += edit_distance(expected, heard)
    if with_dnsmos:
        for condition in CONDITIONS:
            result.dnsmos[condition] = dnsmos.score(join_segments(clips[condition], RATE, gap_s=0.3), RATE)
    return result, clips


def say_twin(result: RealResult, sentences: Sequence[str], speak, recogniser,
             with_dnsmos: bool) -> tuple[RealResult, list[np.ndarray]]:
    """A copy of ``result`` whose clone said ``sentences`` with ``speak(sentence) -> (audio, rate)`` (an A/B arm's
    clone), with that clone's word errors and DNSMOS; returns (the copy, its clips at :data:`RATE`)."""
    import copy

    from bench import dnsmos, voice_speakers
    from voicekit.pcm import join_segments

    twin = copy.copy(result)
    twin.errors, twin.dnsmos, twin.profile = dict(result.errors, clone=0), dict(result.dnsmos), {}
    said = []
    for sentence in sentences:
        audio, rate = speak(sentence)
        said.append(voice_speakers._resample(np.asarray(audio, np.float32), rate))
        twin.errors["clone"] += recogniser.word_errors(sentence, said[-1])
    if with_dnsmos:
        twin.dnsmos["clone"] = dnsmos.score(join_segments(said, RATE, gap_s=0.3), RATE)
    return twin, said


def score_arms(results: list[RealResult], speakers, clips: dict[str, dict[str, list[np.ndarray]]],
               twins: dict, arm_clips: dict, log) -> None:
    """:func:`score_all` for ``results``, then for each A/B arm's copies of them (``twins[arm]``, from
    :func:`say_twin`) with that arm's clone clips (``arm_clips[arm][speaker name]``), the other conditions kept."""
    score_all(results, speakers, clips, log)
    for arm, group in twins.items():
        for twin in group:
            twin.ge2e, twin.ecapa, twin.campplus, twin.mfcc, twin.beats = {}, {}, {}, {}, {}
        score_all(group, speakers, {n: {**c, "clone": arm_clips[arm][n]} for n, c in clips.items()}, log)


def score_all(results: list[RealResult], speakers, clips: dict[str, dict[str, list[np.ndarray]]], log) -> None:
    """GE2E, ECAPA and MFCC similarities with the band limit of the speaker compared against, and beats-every-other."""
    from bench import mfcc_speaker
    from bench.voice_quality import embed
    from voicekit import campplus, ecapa

    def unit(encoder):
        return lambda clip: (lambda v: v / np.linalg.norm(v))(encoder.embed(clip, RATE))

    embedders = {"ge2e": embed, "ecapa": unit(ecapa.default_encoder()), "campplus": unit(campplus.default_encoder())}

    rates = sorted({r.native_rate for r in results})
    limited: dict[tuple[str, str, int], list[np.ndarray]] = {}   # (speaker, condition, band) → clips

    def through(name: str, condition: str, native: int) -> list[np.ndarray]:
        band = min(native, RATE)
        key = (name, condition, band)
        if key not in limited:
            limited[key] = [band_limit(c, band) for c in clips[name][condition]]
        return limited[key]

    emb_cache: dict[tuple[str, str, str, int], list[np.ndarray]] = {}
    stats_cache: dict[tuple[str, str, int], list[np.ndarray]] = {}

    def embeddings(encoder, name, condition, native):
        key = (encoder, name, condition, min(native, RATE))
        if key not in emb_cache:
            # ECAPA and CAM++ need 0.5 s; a shorter held-out clip (a one-word prompt) is left out of the mean
            emb_cache[key] = [embedders[encoder](c) for c in through(name, condition, native)
                              if len(c) >= max(ecapa.MIN_SECONDS, campplus.MIN_SECONDS) * RATE]
        return emb_cache[key]

    def stats(name, condition, native):
        key = (name, condition, min(native, RATE))
        if key not in stats_cache:
            stats_cache[key] = [mfcc_speaker.statistics(c) for c in through(name, condition, native)]
        return stats_cache[key]

    by_name = {s.name: s for s in speakers}
    reference = {r.name: by_name[r.name].reference for r in results}
    ref_emb = {encoder: {n: embedders[encoder](x) for n, x in reference.items()} for encoder in NEURAL}
    ref_stats = {n: mfcc_speaker.statistics(x) for n, x in reference.items()}
    # background for the MFCC z-scoring: every clip of the run (all speakers × conditions, as in voice_quality),
    # each in every band it is scored in
    for r in results:
        for c in CONDITIONS:
            stats(r.name, c, r.native_rate)
        for band in rates:
            stats(r.name, "own", band)
    background = mfcc_speaker.Background([s for clips_ in stats_cache.values() for s in clips_])
    names = [r.name for r in results]
    own = {encoder: [[float(np.mean([e @ ref_emb[encoder][i.name] for e in embeddings(encoder, j, "own",
                                                                                      i.native_rate)]))
                      for j in names] for i in results] for encoder in NEURAL}
    own_mfcc = [[float(np.mean([background.similarity(s, ref_stats[i.name]) for s in stats(j, "own", i.native_rate)]))
                 for j in names] for i in results]
    for r in results:
        for c in CONDITIONS:
            for encoder in NEURAL:
                getattr(r, encoder)[c] = float(np.mean([e @ ref_emb[encoder][r.name]
                                                        for e in embeddings(encoder, r.name, c, r.native_rate)]))
            r.mfcc[c] = float(np.mean([background.similarity(s, ref_stats[r.name])
                                       for s in stats(r.name, c, r.native_rate)]))
        r.ge2e_unmatched = float(np.mean([embed(c) @ ref_emb["ge2e"][r.name] for c in clips[r.name]["clone"]]))
    for encoder, matrix in (*own.items(), ("mfcc", own_mfcc)):
        for suffix, condition in (("", "clone"), ("_base", "base")):
            values = [getattr(r, encoder)[condition] for r in results]
            for r, beat in zip(results, beats_every_other(values, matrix), strict=True):
                r.beats[encoder + suffix] = beat
    for k, r in enumerate(results):
        closest = max((own["ge2e"][k][j], names[j]) for j in range(len(names)) if j != k) if len(names) > 1 else None
        log(f"{r.name}: GE2E own {r.ge2e['own']:.3f} base {r.ge2e['base']:.3f} clone {r.ge2e['clone']:.3f} "
            f"(unmatched {r.ge2e_unmatched:.3f}); closest other speaker {closest}; ECAPA own {r.ecapa['own']:.3f} "
            f"base {r.ecapa['base']:.3f} clone {r.ecapa['clone']:.3f}; CAM++ own {r.campplus['own']:.3f} "
            f"base {r.campplus['base']:.3f} clone {r.campplus['clone']:.3f}")


# --------------------------------------------------------------------------------------------------- report


def _f(value, digits: int = 3) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def table(results: list[RealResult], with_wer: bool, with_dnsmos: bool) -> str:
    encoders = (*NEURAL, "mfcc")
    head = ["speaker", "lang", "band kHz", "ref s", "nearest stock"]
    head += [f"{LABEL[e]} {c}" for e in encoders for c in CONDITIONS] + [f"beats {LABEL[e]}" for e in encoders]
    head += ["WER base", "WER clone"] if with_wer else []
    head += ["OVRL own", "BAK own", "OVRL base", "OVRL clone"] if with_dnsmos else []
    head += ["proxy sim", "conf.", "enrol s", "RTF clone"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    yes = {True: "yes", False: "no"}
    for r in results:
        said = " (x-lang)" if r.cross_language else f" (said {r.spoken})" if r.spoken else ""
        cells = [r.name, r.language + said, f"{min(r.native_rate, RATE) / 2000:g}",
                 f"{r.reference_s:.1f}", r.base_voice]
        cells += [_f(getattr(r, e)[c]) for e in encoders for c in CONDITIONS] + [yes[r.beats[e]] for e in encoders]
        cells += [f"{100 * r.wer(c):.0f} %" if r.words else "—" for c in ("base", "clone")] if with_wer else []
        cells += [_f(r.dnsmos["own"]["ovrl"], 2), _f(r.dnsmos["own"]["bak"], 2), _f(r.dnsmos["base"]["ovrl"], 2),
                  _f(r.dnsmos["clone"]["ovrl"], 2)] if with_dnsmos else []
        cells += [_f(r.proxy_similarity), r.confidence, f"{r.enrol_s:.1f}",
                  _f(r.synth_s["clone"] / max(1e-9, r.audio_s["clone"]), 2)]
        lines.append("| " + " | ".join(cells) + " |")
    n = len(results)
    mean = lambda f: _f(float(np.mean([f(r) for r in results])))  # noqa: E731
    cells = ["**mean**", f"{sum(r.cross_language for r in results)}/{n} x-lang", "",
             f"{np.mean([r.reference_s for r in results]):.1f}", ""]
    cells += [mean(lambda r, e=e, c=c: getattr(r, e)[c]) for e in encoders for c in CONDITIONS]
    cells += [f"{sum(r.beats[e] for r in results)}/{n}" for e in encoders]
    cells += [f"{100 * pooled_wer(results, c):.0f} %" for c in ("base", "clone")] if with_wer else []
    if with_dnsmos:
        cells += [_f(float(np.mean([r.dnsmos[c][k] for r in results])), 2)
                  for c, k in (("own", "ovrl"), ("own", "bak"), ("base", "ovrl"), ("clone", "ovrl"))]
    synth = sum(r.synth_s["clone"] for r in results) / max(1e-9, sum(r.audio_s["clone"] for r in results))
    cells += [mean(lambda r: r.proxy_similarity), "", f"{np.mean([r.enrol_s for r in results]):.1f}", _f(synth, 2)]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def pooled_wer(results: list[RealResult], condition: str) -> float:
    """Word errors over words, pooled over the results that were scored on English words (``words`` > 0)."""
    scored = [r for r in results if r.words]
    return sum(r.errors[condition] for r in scored) / max(1, sum(r.words for r in scored))


def optimised_by_the_fit(campplus_weight: float | None = None) -> set[str]:
    """The encoders in enrolment's objectives: GE2E always (the search), CAM++ when the style fit has its term
    (``campplus_weight``; None: the CPU settings')."""
    from voicekit import style_fit

    weight = style_fit.CPU_SETTINGS.campplus_weight if campplus_weight is None else campplus_weight
    return {"ge2e", "campplus"} if weight > 0 else {"ge2e"}


def summary(results: list[RealResult], with_wer: bool, optimised: set[str] | None = None) -> list[str]:
    """The run's summary lines; ``optimised``: which encoders enrolment optimised (default
    :func:`optimised_by_the_fit`), so that each line says whether it is an independent check."""
    optimised = optimised_by_the_fit() if optimised is None else optimised
    n = len(results)
    x = [r for r in results if r.cross_language]
    en = [r for r in results if r.language.lower().startswith("en")]
    out = [f"GE2E (optimised): clone {np.mean([r.ge2e['clone'] for r in results]):.3f}, base "
           f"{np.mean([r.ge2e['base'] for r in results]):.3f}, own {np.mean([r.ge2e['own'] for r in results]):.3f}; "
           f"clone without the band limit {np.mean([r.ge2e_unmatched for r in results]):.3f}",
           *(f"{LABEL[e]} ({'optimised' if e in optimised else 'never optimised'}): clone "
             f"{np.mean([getattr(r, e)['clone'] for r in results]):.3f}, base "
             f"{np.mean([getattr(r, e)['base'] for r in results]):.3f}, own "
             f"{np.mean([getattr(r, e)['own'] for r in results]):.3f}" for e in NEURAL if e != "ge2e"),
           "beats every other speaker — clone: " + ", ".join(
               f"{LABEL[e]} {sum(r.beats[e] for r in results)}/{n}" for e in (*NEURAL, "mfcc"))
           + "; unconverted stock voice: " + ", ".join(
               f"{LABEL[e]} {sum(r.beats[e + '_base'] for r in results)}/{n}" for e in (*NEURAL, "mfcc"))]
    own = [r for r in results if r.own_language]
    for label, group in (("English", en), ("own language, not English", own), ("cross-language", x)):
        if group:
            out.append(f"{label} ({len(group)}): GE2E clone {np.mean([r.ge2e['clone'] for r in group]):.3f} base "
                       f"{np.mean([r.ge2e['base'] for r in group]):.3f} own "
                       f"{np.mean([r.ge2e['own'] for r in group]):.3f}; "
                       + "; ".join(f"{LABEL[e]} clone {np.mean([getattr(r, e)['clone'] for r in group]):.3f} base "
                                   f"{np.mean([getattr(r, e)['base'] for r in group]):.3f}"
                                   for e in NEURAL if e != "ge2e") + "; beats "
                       + ", ".join(f"{LABEL[e]} {sum(r.beats[e] for r in group)}/{len(group)}"
                                   for e in (*NEURAL, "mfcc")))
    if with_wer and any(r.words for r in results):
        out.append(f"WER pooled over {sum(r.words for r in results)} words: base "
                   f"{100 * pooled_wer(results, 'base'):.1f} %, clone {100 * pooled_wer(results, 'clone'):.1f} %")
    rtf = {c: sum(r.synth_s[c] for r in results) / max(1e-9, sum(r.audio_s[c] for r in results))
           for c in ("base", "clone")}
    enrol = [r.enrol_s for r in results]
    out.append(f"synthesis RTF: stock {rtf['base']:.2f}, clone {rtf['clone']:.2f}; enrolment median "
               f"{statistics.median(enrol):.1f} s ({min(enrol):.1f}-{max(enrol):.1f} s), "
               f"{np.mean([r.evaluations for r in results]):.1f} syntheses on average; profile ≤ "
               f"{max(r.profile_bytes for r in results)} bytes")
    fits = [r.profile.get("clone", {}).get("styleFit") for r in results if r.profile]
    fitted = [f for f in fits if f and "steps" in f]
    if fits:
        out.append(f"style fit: {len(fitted)} of {len(fits)} clones fitted"
                   + (f", median {statistics.median(f['steps'] for f in fitted):.0f} steps in "
                      f"{statistics.median(f['seconds'] for f in fitted):.1f} s" if fitted else "")
                   + "".join(f"; {f['skipped']}" for f in fits if f and "skipped" in f))
    return out


# --------------------------------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speakers", help="comma-separated subset of real speaker names")
    parser.add_argument("--sentences", type=int, default=4, help="held-out sentences synthesised")
    parser.add_argument("--own-language", action="store_true",
                        help="a speaker of French, Italian, Spanish or Portuguese hears its clone say held-out "
                             "sentences in that language (voice_speakers.HELD_OUT_BY_LANGUAGE; no WER for them)")
    parser.add_argument("--held", type=int, default=6, help="held-out real clips per speaker")
    parser.add_argument("--reference-s", type=float, default=20.0, help="seconds of reference speech")
    parser.add_argument("--enrol-from-s", type=float, default=None,
                        help="enrol from the reference's first N seconds only (short references: e.g. 3); the clone "
                             "is still scored against the whole reference, and speakers are judged short as before")
    parser.add_argument("--budget", type=float, default=None,
                        help="enrolment budget, s (default: the service's, $VOICEKIT_KOKORO_ENROL_BUDGET_S/50)")
    parser.add_argument("--include-short", action="store_true", help="also the speakers with < 8 s of speech")
    parser.add_argument("--cache", default=None, help="real_speakers cache folder")
    parser.add_argument("--wideband", action="store_true",
                        help="the four Asterisk core voices from their 16 kHz G.722 packages (needs the G722 wheel)")
    parser.add_argument("--no-dnsmos", action="store_true")
    parser.add_argument("--no-wer", action="store_true")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    import voicekit
    from bench import dnsmos, real_speakers, voice_speakers
    from voicekit import kokoro_enrol
    from voicekit.intelligibility import Recogniser
    from voicekit.kokoro import KokoroEngine
    from voicekit.tts import Synthesizer

    log(f"code: voicekit {Path(voicekit.__file__).parent}, bench {Path(real_speakers.__file__).parent}")
    names = args.speakers.split(",") if args.speakers else None
    speakers = real_speakers.load(cache=args.cache, reference_s=args.reference_s, held=args.held, names=names,
                                  wideband=args.wideband)
    skipped = [s.name for s in speakers if s.short and not args.include_short]
    speakers = [s for s in speakers if args.include_short or not s.short]
    if skipped:
        log(f"skipped (short: < 8 s reference or < 4 s held-out): {', '.join(skipped)}")
    with_dnsmos = not args.no_dnsmos and dnsmos.available() is None
    recogniser = None if args.no_wer else Recogniser()
    engine = KokoroEngine()
    enroller = kokoro_enrol.Enroller(engine, log=log)
    if enroller.style_fit is not None and not enroller.style_fit.wait():   # every speaker enrolled alike
        log(f"style fit unavailable: {enroller.style_fit.error}")
    synthesizer = Synthesizer(kokoro=engine)
    started = time.perf_counter()
    results, clips, refused = [], {}, []
    from voicekit.errors import VoicekitError

    for sp in speakers:
        log(f"{sp.name}: {sp.language}, {sp.native_rate} Hz, {sp.reference_s:.1f} s reference, "
            f"{len(sp.held_out)} held-out clips ({sp.held_out_s:.1f} s)")
        language = voice_speakers.own_language(sp.language) if args.own_language else None
        sentences = voice_speakers.held_out_sentences(language, args.sentences)
        try:
            result, speaker_clips = run_speaker(sp, engine, enroller, synthesizer, recogniser, sentences,
                                                with_dnsmos, args.budget, log, args.enrol_from_s, language)
        except VoicekitError as exc:   # a refused reference is a result too
            log(f"  refused: {exc.code}: {exc}")
            refused.append(f"{sp.name} ({exc.code})")
            continue
        results.append(result)
        clips[sp.name] = speaker_clips
    if not results:
        return 1
    score_all(results, speakers, clips, log)
    print(table(results, recogniser is not None, with_dnsmos))
    print()
    for line in summary(results, recogniser is not None):
        print(line)
    if skipped:
        print(f"skipped (short): {', '.join(skipped)}")
    if refused:
        print(f"refused: {', '.join(refused)}")
    print(f"{len(results)} speakers, {args.sentences} sentences each, in {time.perf_counter() - started:.0f} s")
    if args.json:
        unsaved = ("profile", "screened")
        Path(args.json).write_text(json.dumps([{**{k: v for k, v in r.__dict__.items() if k not in unsaved},
                                                "cross_language": r.cross_language, "own_language": r.own_language}
                                               for r in results],
                                              default=float, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
