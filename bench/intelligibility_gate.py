"""How good is enrolment's intelligibility gate? The candidates it chooses between, measured on held-out text.

    .venv/bin/python -m bench.intelligibility_gate [--speakers a,b] [--budget 30] [--json out.json]

For each real speaker (``bench.real_speakers``), as enrolment does it without the gate: the reference is screened
(``enrolment.screen``) and the voice search runs (``kokoro_enrol.find_voice``, ``--budget`` seconds: the service's
search share when the style fit runs); the gate would then check, in order, the candidates of
``kokoro_enrol._check_order`` (the search's best, the best inside the stock voices' hull, the nearest in-hull bank
entry). Each of those is measured here, without the EQ, exemplar step or style fit (they follow the gate):

- errors on the gate's proxy text (``kokoro_enrol.PROXY_TEXT``, 16 words) and on three other Harvard sentence
  pairs (``SECOND``, candidates for a second look);
- errors on the benchmark's held-out sentences (``voice_speakers.HELD_OUT_TEXT[:4]``, 30 words, as
  ``bench.voice_quality_real`` scores WER) and the GE2E and ECAPA similarity of that speech (through the
  speaker's band) to the speaker's own held-out speech (mean embeddings).

Then decision rules are replayed on these measurements (the shipped one: at most 6 proxy errors; variants: other
limits, and a second sentence for near misses), each reporting the mean held-out similarity and pooled WER of
the candidates it keeps. ≈ 2 minutes per speaker on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

RATE = 16000
SECOND = {
    "A": "It's easy to tell the depth of a well. These days a chicken leg is a rare dish.",
    "B": "The juice of lemons makes fine punch. Four hours of steady work faced us.",
    "C": "A large size in stockings is hard to sell. The hogs were fed chopped corn and garbage.",
}


@dataclass
class Measured:
    """One candidate the gate would check, measured."""

    speaker: str
    candidate: str
    rank: int                       # its place in the gate's order (0: the search's best)
    proxy_similarity: float
    proxy_errors: int
    proxy_words: int
    second_errors: dict[str, int]   # SECOND key → errors
    second_words: dict[str, int]
    held_errors: int
    held_words: int
    ge2e: float
    ecapa: float


# --------------------------------------------------------------------------------------------------- pure parts

Judge = Callable[[Measured], tuple[bool, float]]   # → (passes, the rate it is judged by)


def proxy_limit(errors: int) -> Judge:
    """Pass with at most ``errors`` of the proxy's words wrong (the shipped gate: 6 of 16)."""
    return lambda m: (m.proxy_errors <= errors, m.proxy_errors / m.proxy_words)


def second_look(key: str, errors: int = 6, near: int = 8, limit: float = 0.375) -> Judge:
    """Pass with at most ``errors`` proxy errors; with at most ``near``, when the mean of the proxy's and the
    ``SECOND[key]`` sentence's rates is at most ``limit``."""
    def judge(m: Measured) -> tuple[bool, float]:
        rate = m.proxy_errors / m.proxy_words
        if m.proxy_errors <= errors or m.proxy_errors > near:
            return m.proxy_errors <= errors, rate
        mean = (rate + m.second_errors[key] / m.second_words[key]) / 2
        return mean <= limit, mean
    return judge


def choose(order: list[Measured], judge: Judge) -> Measured:
    """What the gate keeps (``kokoro_enrol._intelligible``): the first that passes, else the lowest rate (ties:
    the earlier)."""
    chosen: tuple[float, Measured] | None = None
    for m in order:
        passes, rate = judge(m)
        if passes:
            return m
        if chosen is None or rate < chosen[0]:
            chosen = (rate, m)
    assert chosen is not None, "no candidate"
    return chosen[1]


def replay(by_speaker: dict[str, list[Measured]], judge: Judge) -> dict:
    kept = [choose(sorted(order, key=lambda m: m.rank), judge) for order in by_speaker.values()]
    return {"ge2e": float(np.mean([m.ge2e for m in kept])), "ecapa": float(np.mean([m.ecapa for m in kept])),
            "wer": sum(m.held_errors for m in kept) / max(1, sum(m.held_words for m in kept)),
            "ranks": [m.rank for m in kept]}


RULES: dict[str, Judge] = {
    "shipped (≤ 6 of 16 proxy errors)": proxy_limit(6),
    "always the search's best": lambda m: (True, 0.0),
    "≤ 5 proxy errors": proxy_limit(5),
    "≤ 7 proxy errors": proxy_limit(7),
    **{f"second look {k} (7-8 errors: mean rate ≤ 0.375)": second_look(k) for k in SECOND},
}


# --------------------------------------------------------------------------------------------------- measuring


def centroid(encode: Callable[[np.ndarray, int], np.ndarray], clips: list[np.ndarray]) -> np.ndarray:
    """The unit mean of the clips' unit embeddings (``encode(samples, RATE)``): one voice from several utterances."""
    def unit(v) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        return v / np.linalg.norm(v)

    return unit(np.mean([unit(encode(c, RATE)) for c in clips], axis=0))


def measure(speakers, budget_s: float, log: Callable[[str], None]) -> list[Measured]:
    from bench import voice_speakers
    from bench.voice_quality_real import band_limit
    from voicekit import ecapa, enrolment, speaker_encoder
    from voicekit import kokoro_enrol as ke
    from voicekit.intelligibility import Recogniser, words
    from voicekit.kokoro import KokoroEngine

    engine = KokoroEngine()
    bank = ke.load_bank()
    speak_proxy, _ = ke.proxy_speaker(engine, bank.proxy_text, basis=bank.basis)
    speak_second = {k: ke.proxy_speaker(engine, text, basis=bank.basis)[0] for k, text in SECOND.items()}
    held_text = voice_speakers.HELD_OUT_TEXT[:4]
    speak_held = [ke.proxy_speaker(engine, text, basis=bank.basis)[0] for text in held_text]
    recogniser = Recogniser()
    encoder = ecapa.default_encoder()

    def embed(audio, rate):
        return speaker_encoder.embed(audio, rate, fixed_level=True)

    errors = recogniser.word_errors

    out: list[Measured] = []
    for sp in speakers:
        started = time.monotonic()
        screened = enrolment.screen(sp.reference, RATE)
        target = ke.Target(embedding=np.asarray(screened.embedding, dtype=np.float64),
                           log_f0=float(screened.f0.log_mean), speech_s=float(screened.speech_s))
        spoken: list[tuple[ke.Recipe, tuple[np.ndarray, int]]] = []

        def speak(recipe, spoken=spoken):
            audio = speak_proxy(recipe)
            spoken.append((recipe, audio))
            return audio

        found = ke.find_voice(target, bank, speak, embed, ke.Enroller.log_f0, budget_s=budget_s)
        evaluated = [ke._Candidate(score, sim, recipe.timbre, recipe.prosody, what, audio)
                     for (what, sim, score), (recipe, audio) in zip(found.history[1:], spoken, strict=True)]
        bank_entries = [ke._bank_candidate(target, bank, int(i)) for i in ke.candidates(target, bank)]
        best = max([bank_entries[0], *evaluated], key=lambda c: c.score)   # find_voice starts from the bank's top
        own = [band_limit(c, sp.native_rate) for c in sp.held_out]
        own_ge2e = centroid(embed, own)
        own_ecapa = centroid(encoder.embed, [c for c in own if len(c) >= ecapa.MIN_SECONDS * RATE])
        for rank, c in enumerate(ke._check_order(best, evaluated, bank_entries)):
            recipe = ke.Recipe(bank.basis, c.timbre, c.prosody)
            audio = c.audio or speak_proxy(recipe)
            held_errors, clips = 0, []
            for text, say in zip(held_text, speak_held, strict=True):
                samples, rate = say(recipe)
                samples = voice_speakers._resample(np.asarray(samples, np.float32), rate)
                held_errors += errors(text, samples, RATE)
                clips.append(band_limit(samples, sp.native_rate))
            m = Measured(
                speaker=sp.name, candidate=c.what, rank=rank, proxy_similarity=round(c.similarity, 4),
                proxy_errors=errors(bank.proxy_text, *audio), proxy_words=len(words(bank.proxy_text)),
                second_errors={k: errors(SECOND[k], *say(recipe)) for k, say in speak_second.items()},
                second_words={k: len(words(text)) for k, text in SECOND.items()},
                held_errors=held_errors, held_words=sum(len(words(t)) for t in held_text),
                ge2e=float(centroid(embed, clips) @ own_ge2e), ecapa=float(centroid(encoder.embed, clips) @ own_ecapa))
            out.append(m)
            log(f"  {m.candidate}: proxy {m.proxy_errors}/{m.proxy_words} errors, second "
                f"{m.second_errors}, held-out {m.held_errors}/{m.held_words}, GE2E {m.ge2e:.3f}, ECAPA {m.ecapa:.3f}")
        log(f"{sp.name}: {time.monotonic() - started:.0f} s")
    return out


def report(measured: list[Measured]) -> list[str]:
    by_speaker: dict[str, list[Measured]] = {}
    for m in measured:
        by_speaker.setdefault(m.speaker, []).append(m)
    lines = [f"{len(by_speaker)} speakers; the gate's candidates as measured (rank 0 = the search's best):", "",
             "| speaker | candidate | proxy errors /16 | " + " | ".join(f"{k} errors" for k in SECOND)
             + " | held-out errors /30 | GE2E | ECAPA |", "|---|---|---|" + "---|" * len(SECOND) + "---|---|---|"]
    for m in measured:
        lines.append(f"| {m.speaker} | {m.rank}: {m.candidate} | {m.proxy_errors} | "
                     + " | ".join(f"{m.second_errors[k]}/{m.second_words[k]}" for k in SECOND)
                     + f" | {m.held_errors} | {m.ge2e:.3f} | {m.ecapa:.3f} |")
    lines += ["", "| rule | GE2E | ECAPA | held-out WER | kept (rank per speaker) |", "|---|---|---|---|---|"]
    for name, judge in RULES.items():
        r = replay(by_speaker, judge)
        lines.append(f"| {name} | {r['ge2e']:.4f} | {r['ecapa']:.4f} | {100 * r['wer']:.1f} % | {r['ranks']} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speakers", help="comma-separated names (default: every speaker but the short ones)")
    parser.add_argument("--budget", type=float, default=30.0, help="the search's seconds per speaker")
    parser.add_argument("--json", help="write the measurements here")
    args = parser.parse_args(argv)
    from bench import real_speakers

    speakers = real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
    speakers = [s for s in speakers if args.speakers or not s.short]     # as bench.voice_quality_real
    measured = measure(speakers, args.budget, lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(m) for m in measured], f, indent=1)
    print("\n".join(report(measured)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
