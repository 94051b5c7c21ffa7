"""Voice-cloning quality: speaker similarity, intelligibility (WER) and DNSMOS, against two baselines.

    .venv/bin/python -m bench.voice_quality [--speakers a,b] [--held 3] [--reference-s 3.4] [--budget 50]
                                            [--no-dnsmos] [--no-wer] [--json out.json] [--merge a.json,b.json]
    .venv/bin/python -m bench.voice_quality --engine world-vc      # the older flite conversion (below)

``--engine kokoro`` (default; ``main_kokoro``): each speaker (``voice_speakers.speakers()`` plus Kokoro stock voices
left out of the bank) is screened and enrolled by ``kokoro_enrol.Enroller`` (the ``enroll`` model's Kokoro path),
then the held-out sentences are spoken by the speaker (own), the clone's nearest stock voice (base) and the clone;
reported per speaker and mean: GE2E similarity (the encoder enrolment optimises), MFCC-statistics similarity
(``bench/mfcc_speaker.py``, never optimised), whether the clone beats every other speaker's own speech on each,
WER, DNSMOS OVRL, RTF and enrolment time. Targets: GE2E ≥ 0.80, WER ≤ base + 5 points, OVRL ≥ 3.3. The clone is
spoken as ``synthesize`` does (recipe, then the profile's ``spectralMatch`` EQ); a second table compares it with
the same recipe without the EQ (``raw``: same enrolment, same sentences).

``--engine world-vc``:

For every reference speaker (``bench/voice_speakers.py``: synthetic — see there) the script

1. enrols the speaker's reference (~15-20 s: ``ENROL_TEXT`` as a 16-bit WAV) with ``voicekit.enrolment.enroll`` —
   the code the ``enroll`` model runs — allowing every system voice except the target's own (a flite target may
   not be cloned from itself; a variant may not be cloned from its source voice);
2. speaks the held-out sentences (``HELD_OUT_TEXT``: in neither the reference nor the enrolment's proxy text)
   three ways: the **target's own** speech (upper baseline), the **unconverted base voice** (the system voice the
   clone starts from; lower baseline) and the **clone** (``voicekit.tts.Synthesizer.speak`` with the profile —
   the code the ``synthesize`` model runs);
3. scores each clip: speaker similarity = cosine between its GE2E embedding and the target's *enrolment average*
   (mean of the embeddings of the reference's sentences, renormalised), all embeddings at a fixed level
   (``fixed_level=True``: gain-independent); WER = pocketsphinx 5 (en-US model bundled in the wheel) against the
   sentence text; DNSMOS (P.835 OVRL and P.808, ``bench/dnsmos.py``) on each condition's held-out sentences
   joined.

Targets (the issue's): mean similarity of the clones ≥ 0.65; clone WER ≤ base-voice WER + 10 points.
Everything runs in-process on CPU; nothing is downloaded.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import dnsmos, mfcc_speaker, voice_speakers
from voicekit import enrolment, speaker_encoder, voiceclone
from voicekit import profile as voice_profile
from voicekit.errors import VoicekitError
from voicekit.intelligibility import Recogniser, edit_distance, words
from voicekit.pcm import join_segments, write_wav
from voicekit.tts import Synthesizer

RATE = 16000
CONDITIONS = ("own", "base", "clone")
SIMILARITY_TARGET = 0.65
WER_MARGIN = 0.10


# --------------------------------------------------------------------------------------------------- scoring


def embed(samples: np.ndarray, rate: int = RATE) -> np.ndarray:
    return speaker_encoder.embed(samples, rate, fixed_level=True)


# --------------------------------------------------------------------------------------------------- running


@dataclass
class SpeakerResult:
    name: str
    description: str
    base_voice: str
    excluded: tuple[str, ...]
    reference_s: float
    enrol_s: float
    tuned_similarity: float
    profile_bytes: int
    similarity: dict[str, list[float]] = field(default_factory=lambda: {c: [] for c in CONDITIONS})
    errors: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CONDITIONS})
    words: int = 0
    dnsmos: dict[str, dict[str, float]] = field(default_factory=dict)
    synth_s: dict[str, float] = field(default_factory=lambda: {"base": 0.0, "clone": 0.0})
    audio_s: dict[str, float] = field(default_factory=lambda: {"base": 0.0, "clone": 0.0})
    transcripts: dict[str, list[str]] = field(default_factory=lambda: {c: [] for c in CONDITIONS})

    def mean_similarity(self, condition: str) -> float:
        return float(np.mean(self.similarity[condition]))

    def wer(self, condition: str) -> float:
        return self.errors[condition] / max(1, self.words)


def run_speaker(speaker: voice_speakers.Speaker, synthesizer: Synthesizer, recogniser: Recogniser | None,
                with_dnsmos: bool, budget_s: float | None, log) -> SpeakerResult:
    sentences = [speaker.render(s) for s in voice_speakers.ENROL_TEXT]
    reference = join_segments(sentences, RATE, gap_s=0.3)
    enrol_average = np.mean([embed(s) for s in sentences], axis=0)
    enrol_average /= np.linalg.norm(enrol_average)
    voices = tuple(v for v in voiceclone.BASE_VOICES if v not in speaker.exclude)
    started = time.perf_counter()
    enrolled = enrolment.enroll(write_wav(reference, RATE), voices=voices, budget_s=budget_s)
    enrol_s = time.perf_counter() - started
    profile = voice_profile.parse(enrolled.profile_json)
    base_voice = enrolled.engine_voice
    result = SpeakerResult(name=speaker.name, description=speaker.description, base_voice=base_voice,
                           excluded=speaker.exclude, reference_s=len(reference) / RATE, enrol_s=enrol_s,
                           tuned_similarity=float(profile["conversion"]["tuning"]["similarity"]),
                           profile_bytes=len(enrolled.profile_json.encode()))
    log(f"  enrolled in {enrol_s:.1f} s ({result.reference_s:.1f} s reference): base voice {base_voice}, "
        f"tuned similarity {result.tuned_similarity:.3f}, settings warp={profile['conversion']['warp']} "
        f"f0Range={profile['conversion']['f0Range']} breathiness={profile['conversion']['breathiness']} "
        f"eqStrength={profile['conversion']['tuning']['eqStrength']} "
        f"({profile['conversion']['tuning']['evaluations']} candidates in {profile['conversion']['tuning']['tuneS']} s"
        f"{', budget exhausted' if profile['conversion']['tuning']['budgetExhausted'] else ''})")
    clips: dict[str, list[np.ndarray]] = {c: [] for c in CONDITIONS}
    for text in voice_speakers.HELD_OUT_TEXT:
        own = speaker.render(text)
        started = time.perf_counter()
        base, rate = synthesizer.speak(text, base_voice)
        result.synth_s["base"] += time.perf_counter() - started
        started = time.perf_counter()
        clone, rate = synthesizer.speak(text, base_voice, profile=profile)
        result.synth_s["clone"] += time.perf_counter() - started
        result.audio_s["base"] += len(base) / rate
        result.audio_s["clone"] += len(clone) / rate
        reference_words = words(text)
        result.words += len(reference_words)
        for condition, audio in (("own", own), ("base", base), ("clone", clone)):
            clips[condition].append(audio)
            result.similarity[condition].append(float(embed(audio) @ enrol_average))
            if recogniser is not None:
                hypothesis = recogniser.transcribe(audio)
                result.transcripts[condition].append(hypothesis)
                result.errors[condition] += edit_distance(reference_words, words(hypothesis))
    if with_dnsmos:
        for condition in CONDITIONS:
            result.dnsmos[condition] = dnsmos.score(join_segments(clips[condition], RATE, gap_s=0.3), RATE)
    return result


# --------------------------------------------------------------------------------------------------- report


def _fmt(value: float, digits: int = 3) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def table(results: list[SpeakerResult], with_wer: bool, with_dnsmos: bool) -> str:
    head = ["speaker", "base voice", "sim own", "sim base", "sim clone"]
    if with_wer:
        head += ["WER own", "WER base", "WER clone"]
    if with_dnsmos:
        head += ["OVRL own", "OVRL base", "OVRL clone", "P808 base", "P808 clone"]
    head += ["enrol s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def row(name, base, sims, wers, dns, enrol):
        cells = [name, base] + [_fmt(s) for s in sims]
        if with_wer:
            cells += [f"{100 * w:.0f} %" for w in wers]
        if with_dnsmos:
            cells += [_fmt(v, 2) for v in dns]
        cells += [f"{enrol:.1f}"]
        return "| " + " | ".join(cells) + " |"

    def dns_cells(items):
        if not with_dnsmos:
            return []
        return [np.mean([r.dnsmos[c]["ovrl"] for r in items]) for c in CONDITIONS] + \
               [np.mean([r.dnsmos[c]["p808"] for r in items]) for c in ("base", "clone")]

    for r in results:
        lines.append(row(r.name, r.base_voice, [r.mean_similarity(c) for c in CONDITIONS],
                         [r.wer(c) for c in CONDITIONS], dns_cells([r]), r.enrol_s))
    total_words = sum(r.words for r in results)
    pooled = [sum(r.errors[c] for r in results) / max(1, total_words) for c in CONDITIONS]
    lines.append(row("**mean**", "", [np.mean([r.mean_similarity(c) for r in results]) for c in CONDITIONS],
                     pooled, dns_cells(results), float(np.mean([r.enrol_s for r in results]))))
    return "\n".join(lines)


def verdict(results: list[SpeakerResult], with_wer: bool) -> list[str]:
    mean_clone = float(np.mean([r.mean_similarity("clone") for r in results]))
    out = [f"mean clone similarity {mean_clone:.3f} (target ≥ {SIMILARITY_TARGET}): "
           f"{'PASS' if mean_clone >= SIMILARITY_TARGET else 'FAIL'}"]
    if with_wer:
        out.append(wer_verdict(results, "base voice", WER_MARGIN))
    return out


def wer_verdict(results: list, base_label: str, margin: float) -> str:
    """Pooled WER of the clones against the unconverted voice, and whether it stays within ``margin``."""
    total = sum(r.words for r in results)
    base = sum(r.errors["base"] for r in results) / max(1, total)
    clone = sum(r.errors["clone"] for r in results) / max(1, total)
    return (f"clone WER {100 * clone:.1f} % vs {base_label} {100 * base:.1f} % (target ≤ base + "
            f"{100 * margin:.0f} points): {'PASS' if clone <= base + margin else 'FAIL'}")


# --------------------------------------------------------------------------------------------------- Kokoro

# raw: the clone's recipe without its spectral correction (the ablation: same enrolment, same sentences)
KOKORO_CONDITIONS = ("own", "base", "raw", "clone")
MAIN_CONDITIONS = ("own", "base", "clone")
GE2E_TARGET = 0.80
BEATS_TARGET = 0.70
WER_MARGIN_KOKORO = 0.05


@dataclass
class KokoroResult:
    name: str
    reference_s: float
    enrol_s: float
    base_voice: str
    proxy_similarity: float
    confidence: str
    evaluations: int
    profile_bytes: int
    ge2e: dict[str, float] = field(default_factory=dict)       # condition → mean cosine to the enrolment average
    mfcc: dict[str, float] = field(default_factory=dict)       # condition → mean z-cosine to the reference stats
    errors: dict[str, int] = field(default_factory=lambda: {c: 0 for c in KOKORO_CONDITIONS})
    words: int = 0
    dnsmos: dict[str, float] = field(default_factory=dict)     # condition → OVRL
    synth_s: dict[str, float] = field(default_factory=lambda: {"base": 0.0, "clone": 0.0})
    audio_s: dict[str, float] = field(default_factory=lambda: {"base": 0.0, "clone": 0.0})
    beats: dict[str, bool] = field(default_factory=dict)       # encoder → clone beats every other speaker's own
    spectral: dict = field(default_factory=dict)               # profile clone.spectralMatch (+ the curve's peak)
    stats: dict = field(default_factory=dict, repr=False)      # per-clip MFCC statistics (for the background)

    def wer(self, condition: str) -> float:
        return self.errors[condition] / max(1, self.words)


def run_kokoro_speaker(speaker, engine, enroller_for, recogniser, with_dnsmos: bool, held: int,
                       reference_s: float | None, budget_s: float | None, log):
    from voicekit import enrolment as enrol_checks
    from voicekit import kokoro_enrol, spectral_match
    from voicekit.kokoro import SAMPLE_RATE as KOKORO_RATE

    sentences = [speaker.render(s) for s in voice_speakers.ENROL_TEXT]
    enrol_average = np.mean([embed(s) for s in sentences], axis=0)
    enrol_average /= np.linalg.norm(enrol_average)
    reference = join_segments(sentences, RATE, gap_s=0.3)
    if reference_s:
        reference = reference[: int(reference_s * RATE)]
    enroller = enroller_for(speaker.exclude)
    started = time.monotonic()
    screened = enrol_checks.screen(reference, RATE)
    profile, found = enroller.enroll(screened, "wav", budget=budget_s, started=started)  # as the enroll model
    enrol_s = time.monotonic() - started
    pack = enroller.pack(kokoro_enrol.recipe_of(profile))
    correction = spectral_match.curve_of(profile)   # what synthesize applies to the clone (None: nothing kept)
    base_voice = profile["engineVoice"]
    language = profile["language"]
    result = KokoroResult(name=speaker.name, reference_s=len(reference) / RATE, enrol_s=enrol_s,
                          base_voice=base_voice, proxy_similarity=found.similarity, confidence=found.confidence,
                          evaluations=found.evaluations, profile_bytes=len(json.dumps(profile).encode()))
    result.spectral = dict(profile["clone"].get("spectralMatch") or {})
    result.spectral["maxAbsDb"] = float(np.abs(correction.gains_db).max()) if correction is not None else 0.0
    log(f"  enrolled in {enrol_s:.1f} s ({result.reference_s:.1f} s reference): nearest stock voice {base_voice}, "
        f"proxy similarity {found.similarity:.3f} ({found.evaluations} syntheses, start {found.start}, "
        f"confidence {found.confidence}); spectral match {result.spectral}")
    clips: dict[str, list[np.ndarray]] = {c: [] for c in KOKORO_CONDITIONS}
    for text in voice_speakers.HELD_OUT_TEXT[:held]:
        clips["own"].append(speaker.render(text))
        for condition, style in (("base", engine.voice_pack(base_voice)), ("clone", pack)):
            t0 = time.perf_counter()
            audio = engine.speak(text, language, style)
            if condition == "clone":   # as tts.Synthesizer.speak does for a version-3 profile
                clips["raw"].append(voice_speakers._resample(audio, KOKORO_RATE))
                audio = spectral_match.apply(audio, KOKORO_RATE, correction)
            result.synth_s[condition] += time.perf_counter() - t0
            result.audio_s[condition] += len(audio) / KOKORO_RATE
            clips[condition].append(voice_speakers._resample(audio, KOKORO_RATE))
        result.words += len(words(text))
        for condition in KOKORO_CONDITIONS:
            if recogniser is not None:
                result.errors[condition] += recogniser.word_errors(text, clips[condition][-1])
    for condition in KOKORO_CONDITIONS:
        result.ge2e[condition] = float(np.mean([embed(c) @ enrol_average for c in clips[condition]]))
        result.stats[condition] = [mfcc_speaker.statistics(c) for c in clips[condition]]
        if with_dnsmos:
            result.dnsmos[condition] = dnsmos.score(join_segments(clips[condition], RATE, gap_s=0.3), RATE)["ovrl"]
    result.stats["reference"] = mfcc_speaker.statistics(reference)
    result.stats["own_embeddings"] = [embed(c) for c in clips["own"]]
    result.stats["enrol_average"] = enrol_average
    return result


def kokoro_rankings(results: list[KokoroResult]) -> None:
    """MFCC similarities (z-scored against every clip of the run) and, per encoder, whether each clone beats every
    *other* speaker's own held-out speech against this speaker's enrolment."""
    # the background is the main conditions' clips (as before the raw ablation existed): raw is scored against it
    background = mfcc_speaker.Background([s for r in results for c in MAIN_CONDITIONS for s in r.stats[c]])
    for r in results:
        for c in (c for c in KOKORO_CONDITIONS if c in r.stats):
            r.mfcc[c] = float(np.mean([background.similarity(s, r.stats["reference"]) for s in r.stats[c]]))
    for r in results:
        others = [o for o in results if o is not r]
        if not others:
            continue
        ge2e_others = [float(np.mean([e @ r.stats["enrol_average"] for e in o.stats["own_embeddings"]]))
                       for o in others]
        mfcc_others = [float(np.mean([background.similarity(s, r.stats["reference"]) for s in o.stats["own"]]))
                       for o in others]
        for condition, suffix in (("clone", ""), ("raw", "_raw")):
            if condition in r.ge2e:
                r.beats["ge2e" + suffix] = r.ge2e[condition] > max(ge2e_others)
                r.beats["mfcc" + suffix] = r.mfcc[condition] > max(mfcc_others)


def kokoro_table(results: list[KokoroResult], with_wer: bool, with_dnsmos: bool) -> str:
    head = ["speaker", "nearest stock", "GE2E own", "GE2E base", "GE2E clone", "MFCC own", "MFCC base",
            "MFCC clone", "beats GE2E", "beats MFCC"]
    if with_wer:
        head += ["WER own", "WER base", "WER clone"]
    if with_dnsmos:
        head += ["OVRL own", "OVRL base", "OVRL clone"]
    head += ["proxy sim", "conf.", "enrol s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [r.name, r.base_voice] + [_fmt(r.ge2e[c]) for c in MAIN_CONDITIONS] + \
                [_fmt(r.mfcc[c]) for c in MAIN_CONDITIONS] + \
                ["yes" if r.beats.get("ge2e") else "no", "yes" if r.beats.get("mfcc") else "no"]
        if with_wer:
            cells += [f"{100 * r.wer(c):.0f} %" for c in MAIN_CONDITIONS]
        if with_dnsmos:
            cells += [_fmt(r.dnsmos[c], 2) for c in MAIN_CONDITIONS]
        cells += [_fmt(r.proxy_similarity), r.confidence, f"{r.enrol_s:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    total = sum(r.words for r in results)
    cells = ["**mean**", ""] + [_fmt(np.mean([r.ge2e[c] for r in results])) for c in MAIN_CONDITIONS] + \
            [_fmt(np.mean([r.mfcc[c] for r in results])) for c in MAIN_CONDITIONS] + \
            [f"{sum(bool(r.beats.get('ge2e')) for r in results)}/{len(results)}",
             f"{sum(bool(r.beats.get('mfcc')) for r in results)}/{len(results)}"]
    if with_wer:
        cells += [f"{100 * sum(r.errors[c] for r in results) / max(1, total):.0f} %" for c in MAIN_CONDITIONS]
    if with_dnsmos:
        cells += [_fmt(np.mean([r.dnsmos[c] for r in results]), 2) for c in MAIN_CONDITIONS]
    cells += [_fmt(np.mean([r.proxy_similarity for r in results])), "",
              f"{np.mean([r.enrol_s for r in results]):.1f}"]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def spectral_table(results: list[KokoroResult], with_wer: bool, with_dnsmos: bool) -> str:
    """The spectral correction's ablation: each clone without (raw) and with its correction (clone), same enrolment
    and sentences; which curve enrolment kept (frames, strength, largest gain) and its proxy GE2E before/after."""
    head = ["speaker", "EQ kept", "max dB", "proxy before", "proxy after", "GE2E raw", "GE2E clone", "MFCC raw",
            "MFCC clone", "beats GE2E raw/clone", "beats MFCC raw/clone"]
    head += ["WER raw", "WER clone"] if with_wer else []
    head += ["OVRL raw", "OVRL clone"] if with_dnsmos else []
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    yes = {True: "yes", False: "no"}
    for r in results:
        sp = r.spectral
        kept = f"{sp.get('frames')} ×{sp.get('strength')}" if sp.get("frames") not in (None, "none") else "no"
        cells = [r.name, kept, f"{sp.get('maxAbsDb', 0.0):.1f}", _fmt(sp.get("similarityBefore", float("nan"))),
                 _fmt(sp.get("similarityAfter", float("nan"))), _fmt(r.ge2e["raw"]), _fmt(r.ge2e["clone"]),
                 _fmt(r.mfcc["raw"]), _fmt(r.mfcc["clone"]),
                 f"{yes[bool(r.beats.get('ge2e_raw'))]}/{yes[bool(r.beats.get('ge2e'))]}",
                 f"{yes[bool(r.beats.get('mfcc_raw'))]}/{yes[bool(r.beats.get('mfcc'))]}"]
        cells += [f"{100 * r.wer(c):.0f} %" for c in ("raw", "clone")] if with_wer else []
        cells += [_fmt(r.dnsmos[c], 2) for c in ("raw", "clone")] if with_dnsmos else []
        lines.append("| " + " | ".join(cells) + " |")
    total = sum(r.words for r in results)
    count = lambda key: f"{sum(bool(r.beats.get(key)) for r in results)}"  # noqa: E731
    cells = ["**mean**", f"{sum(r.spectral.get('frames') not in (None, 'none') for r in results)}/{len(results)}",
             "", _fmt(np.mean([r.spectral.get("similarityBefore", np.nan) for r in results])),
             _fmt(np.mean([r.spectral.get("similarityAfter", np.nan) for r in results])),
             _fmt(np.mean([r.ge2e["raw"] for r in results])), _fmt(np.mean([r.ge2e["clone"] for r in results])),
             _fmt(np.mean([r.mfcc["raw"] for r in results])), _fmt(np.mean([r.mfcc["clone"] for r in results])),
             f"{count('ge2e_raw')}/{count('ge2e')}", f"{count('mfcc_raw')}/{count('mfcc')}"]
    if with_wer:
        cells += [f"{100 * sum(r.errors[c] for r in results) / max(1, total):.1f} %" for c in ("raw", "clone")]
    if with_dnsmos:
        cells += [_fmt(np.mean([r.dnsmos[c] for r in results]), 2) for c in ("raw", "clone")]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kokoro_verdict(results: list[KokoroResult], with_wer: bool) -> list[str]:
    ge2e = float(np.mean([r.ge2e["clone"] for r in results]))
    beats = sum(bool(r.beats.get("mfcc")) for r in results) / max(1, len(results))
    out = [f"GE2E (optimised) clone similarity {ge2e:.3f} (target ≥ {GE2E_TARGET}): "
           f"{'PASS' if ge2e >= GE2E_TARGET else 'FAIL'}",
           f"MFCC statistics (measured only): clone beats every other speaker for {100 * beats:.0f} % of targets "
           f"(the issue's target ≥ {100 * BEATS_TARGET:.0f} % is for a neural encoder; see docs/voice-quality.md)"]
    if with_wer:
        out.append(wer_verdict(results, "unconverted stock voice", WER_MARGIN_KOKORO))
    return out


def main_kokoro(args, recogniser, with_dnsmos: bool, log) -> int:
    from voicekit import kokoro_enrol
    from voicekit.kokoro import KokoroEngine

    engine = KokoroEngine()
    bank = kokoro_enrol.load_bank(args.bank) if args.bank else kokoro_enrol.load_bank()
    enrollers: dict[tuple[str, ...], object] = {}
    # one style fit (one compilation) for every enroller, ready before the first speaker
    style_fit = kokoro_enrol.style_fit_from_env(engine, log, background=False)

    def enroller_for(exclude: tuple[str, ...]):
        left_out = tuple(sorted(n for n in exclude if n in bank.basis))
        if left_out not in enrollers:
            enrollers[left_out] = kokoro_enrol.Enroller(engine, bank.without(left_out), style_fit=style_fit or False)
        return enrollers[left_out]

    speakers = voice_speakers.speakers() + voice_speakers.kokoro_speakers()
    if args.speakers:
        wanted = set(args.speakers.split(","))
        speakers = [s for s in speakers if s.name in wanted]
    started = time.perf_counter()
    results = []
    refused = []
    for speaker in speakers:
        log(f"{speaker.name}: {speaker.description}")
        try:
            results.append(run_kokoro_speaker(speaker, engine, enroller_for, recogniser, with_dnsmos, args.held,
                                              args.reference_s, args.budget, log))
        except VoicekitError as exc:  # a refused reference is a result too (e.g. < 3 s of speech)
            log(f"  refused: {exc.code}: {exc}")
            refused.append(f"{speaker.name} ({exc.code})")
    if refused:
        print(f"refused: {', '.join(refused)}")
    if not results:
        return 1
    kokoro_rankings(results)
    elapsed = time.perf_counter() - started
    print(kokoro_table(results, recogniser is not None, with_dnsmos))
    print()
    print(spectral_table(results, recogniser is not None, with_dnsmos))
    print()
    for line in kokoro_verdict(results, recogniser is not None):
        print(line)
    rtf = {c: sum(r.synth_s[c] for r in results) / max(1e-9, sum(r.audio_s[c] for r in results))
           for c in ("base", "clone")}
    enrol = [r.enrol_s for r in results]
    print(f"synthesis RTF: stock voice {rtf['base']:.3f}, clone {rtf['clone']:.3f}; enrolment "
          f"{statistics.median(enrol):.1f} s median ({min(enrol):.1f}-{max(enrol):.1f} s) for "
          f"{np.mean([r.reference_s for r in results]):.1f} s references; profile ≤ "
          f"{max(r.profile_bytes for r in results)} bytes; {len(results)} speakers in {elapsed:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps([_jsonable(r.__dict__) for r in results]))
    return 0


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def merge_kokoro(paths: list[str], with_wer: bool, with_dnsmos: bool) -> int:
    """Join the JSON of several runs (e.g. speakers split over two processes; a speaker in a later file replaces
    the same speaker in an earlier one): rankings need every speaker."""
    by_name: dict[str, KokoroResult] = {}
    for path in paths:
        for item in json.loads(Path(path).read_text()):
            stats = item.pop("stats")
            stats = {k: (np.asarray(v) if k in ("reference", "enrol_average") else [np.asarray(x) for x in v])
                     for k, v in stats.items()}
            by_name[item["name"]] = KokoroResult(**{**item, "stats": stats})
    results = list(by_name.values())
    kokoro_rankings(results)
    print(kokoro_table(results, with_wer, with_dnsmos))
    print()
    if all("raw" in r.ge2e for r in results):
        print(spectral_table(results, with_wer, with_dnsmos))
        print()
    for line in kokoro_verdict(results, with_wer):
        print(line)
    rtf = {c: sum(r.synth_s[c] for r in results) / max(1e-9, sum(r.audio_s[c] for r in results))
           for c in ("base", "clone")}
    enrol = [r.enrol_s for r in results]
    print(f"synthesis RTF: stock voice {rtf['base']:.3f}, clone {rtf['clone']:.3f}; enrolment "
          f"{statistics.median(enrol):.1f} s median ({min(enrol):.1f}-{max(enrol):.1f} s) for "
          f"{np.mean([r.reference_s for r in results]):.1f} s references; {len(results)} speakers")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speakers", help="comma-separated subset of speaker names")
    parser.add_argument("--budget", type=float, default=None, help="enrolment tuning budget, seconds "
                                                                   "(default: the enroll model's)")
    parser.add_argument("--no-dnsmos", action="store_true")
    parser.add_argument("--no-wer", action="store_true")
    parser.add_argument("--json", help="write the raw results here")
    parser.add_argument("--engine", choices=("kokoro", "world-vc"), default="kokoro",
                        help="kokoro: style-recipe clones (profile v3); world-vc: the flite conversion (v2)")
    parser.add_argument("--held", type=int, default=len(voice_speakers.HELD_OUT_TEXT),
                        help="kokoro: held-out sentences per speaker")
    parser.add_argument("--reference-s", type=float, default=None,
                        help="kokoro: cut every reference to its first S seconds (e.g. 3)")
    parser.add_argument("--bank", help="kokoro: enrolment bank file (default: voicekit's)")
    parser.add_argument("--merge", help="kokoro: comma-separated --json files of earlier runs to join and report")
    args = parser.parse_args(argv)
    if args.merge:
        return merge_kokoro(args.merge.split(","), not args.no_wer, not args.no_dnsmos)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with_dnsmos = not args.no_dnsmos
    if with_dnsmos and dnsmos.available() is not None:
        log(f"DNSMOS skipped: {dnsmos.available()}")
        with_dnsmos = False
    recogniser = None
    if not args.no_wer:
        try:
            recogniser = Recogniser()
        except ImportError:
            log("WER skipped: pocketsphinx is not installed (pip install pocketsphinx==5.0.4)")
    if args.engine == "kokoro":
        return main_kokoro(args, recogniser, with_dnsmos, log)
    speakers = voice_speakers.speakers()
    if args.speakers:
        wanted = set(args.speakers.split(","))
        speakers = [s for s in speakers if s.name in wanted]
    synthesizer = Synthesizer()
    started = time.perf_counter()
    results = []
    for speaker in speakers:
        log(f"{speaker.name}: {speaker.description}")
        results.append(run_speaker(speaker, synthesizer, recogniser, with_dnsmos, args.budget, log))
    elapsed = time.perf_counter() - started
    print(table(results, recogniser is not None, with_dnsmos))
    print()
    for line in verdict(results, recogniser is not None):
        print(line)
    base_rtf = sum(r.synth_s["base"] for r in results) / sum(r.audio_s["base"] for r in results)
    clone_rtf = sum(r.synth_s["clone"] for r in results) / sum(r.audio_s["clone"] for r in results)
    enrol = [r.enrol_s for r in results]
    rtf_enrol = [r.enrol_s / r.reference_s for r in results]
    print(f"synthesis RTF: base voice {base_rtf:.3f}, clone {clone_rtf:.3f}; "
          f"enrolment {statistics.median(enrol):.1f} s "
          f"median ({min(enrol):.1f}-{max(enrol):.1f} s) for {np.mean([r.reference_s for r in results]):.1f} s "
          f"references (RTF {statistics.median(rtf_enrol):.2f}); profile ≤ {max(r.profile_bytes for r in results)} "
          f"bytes; {len(results)} speakers in {elapsed:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
