"""What each part of a clone is worth: each real speaker enrolled once as the service does, then its profile said
with parts taken out or turned up — the style offset (scaled), the EQ curve, the exemplar step (dropped, or another
mix) — on the held-out sentences (GE2E, ECAPA, CAM++, WER, DNSMOS OVRL) and on enrolment's proxy text (OVRL and GE2E
to the reference: what enrolment itself could measure, so whether a check at enrolment could tell which clones lose
quality).

``.venv/bin/python -m bench.clone_ablation [--speakers a,b] [--sentences 3] [--variants shipped,"no EQ"]
[--json out.json]``; ``--tracking out.json`` reads a saved run and prints only how the proxy tracked each change.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

# variant → what is changed in the profile enrolment made: ``offset`` scales the style offset (x2: the whole fitted
# offset, as the service stores half), ``drop`` removes the EQ curve and/or the exemplar codebook, ``mix`` sets the
# exemplar step's mix (the service's: exemplar_match.mix_for)
VARIANTS = {
    "shipped": {},
    "offset x0.5": {"offset": 0.5},
    "no offset": {"offset": 0.0},
    "offset x1.5": {"offset": 1.5},
    "offset x2": {"offset": 2.0},
    "no exemplars": {"drop": ("exemplarMatch",)},
    "no EQ": {"drop": ("spectralMatch",)},
    "no EQ or exemplars": {"drop": ("spectralMatch", "exemplarMatch")},
    "mix 0.7": {"mix": 0.7},
    "mix 0.8": {"mix": 0.8},
    "offset x1.5 + mix 0.7": {"offset": 1.5, "mix": 0.7},
}
DEFAULT_VARIANTS = ("shipped", "offset x0.5", "no offset", "no exemplars", "no EQ", "no EQ or exemplars")


def variant(profile: dict, change: dict) -> dict:
    """``profile`` with ``change`` applied (see :data:`VARIANTS`)."""
    out = {k: v for k, v in profile.items() if k not in change.get("drop", ())}
    if "offset" in change and "styleOffset" in out:
        out["styleOffset"] = [change["offset"] * v for v in out["styleOffset"]]
    if "mix" in change and "exemplarMatch" in out:
        out["exemplarMatch"] = {**out["exemplarMatch"], "mix": change["mix"]}
    return out


def proxy_tracking(rows: list[dict], name: str, baseline: str = "shipped") -> tuple[int, float | None]:
    """How well enrolment's proxy sees what a change does to the held-out OVRL: over the speakers of a saved run
    (``--json`` rows) holding both variants, the Pearson r of the (``name`` − ``baseline``) proxy OVRL differences
    with the held-out OVRL ones. Returns (speakers, r); r is None for fewer than 3 speakers or no spread."""
    pairs = [(r["variants"][name]["proxy"]["ovrl"] - r["variants"][baseline]["proxy"]["ovrl"],
              r["variants"][name]["ovrl"] - r["variants"][baseline]["ovrl"])
             for r in rows if name in r["variants"] and baseline in r["variants"]]
    if len(pairs) < 3:
        return len(pairs), None
    proxy, held = np.array(pairs).T
    if proxy.std() == 0 or held.std() == 0:
        return len(pairs), None
    return len(pairs), float(np.corrcoef(proxy, held)[0, 1])


def print_tracking(rows: list[dict], names) -> None:
    for name in names:
        if name == "shipped":
            continue
        n, r = proxy_tracking(rows, name)
        print(f"proxy OVRL tracking held-out OVRL, {name} − shipped: r = "
              f"{'n/a' if r is None else f'{r:.2f}'} over {n} speakers")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    import argparse
    import json

    from bench import dnsmos, real_speakers, voice_speakers
    from bench.voice_quality import embed
    from bench.voice_quality_real import RATE, run_speaker, say_twin, score_arms
    from voicekit import kokoro_enrol
    from voicekit.intelligibility import Recogniser
    from voicekit.kokoro import KokoroEngine
    from voicekit.tts import Synthesizer

    parser = argparse.ArgumentParser(description="Clone ablation on the real speakers")
    parser.add_argument("--speakers", help="comma-separated subset of real speaker names")
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                        help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--json", help="write the per-speaker figures here")
    parser.add_argument("--tracking", metavar="JSON", help="a saved run: print how the proxy tracked each change")
    args = parser.parse_args(argv)
    if args.tracking:
        rows = json.loads(Path(args.tracking).read_text())
        print_tracking(rows, sorted({name for r in rows for name in r["variants"]}))
        return 0
    names = [name.strip() for name in args.variants.split(",") if name.strip()]
    unknown = [name for name in names if name not in VARIANTS]
    if unknown or not names:
        parser.error(f"unknown variants {unknown}: choose from {', '.join(VARIANTS)}")
    chosen = {name: VARIANTS[name] for name in names}
    if dnsmos.available() is not None:
        log(f"DNSMOS unavailable: {dnsmos.available()}")
        return 1
    speakers = [s for s in real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
                if not s.short]
    engine = KokoroEngine()
    enroller = kokoro_enrol.Enroller(engine, log=log)
    if enroller.style_fit is not None and not enroller.style_fit.wait():
        log(f"style fit unavailable: {enroller.style_fit.error}")
    synthesizer = Synthesizer(kokoro=engine)
    recogniser = Recogniser()
    sentences = voice_speakers.HELD_OUT_TEXT[: args.sentences]
    proxy_text = enroller.bank.proxy_text
    results, clips, twins, twin_clips, proxy = [], {}, {v: [] for v in chosen}, {v: {} for v in chosen}, {}
    for sp in speakers:
        log(f"{sp.name}: {sp.language}, {sp.native_rate} Hz")
        result, speaker_clips = run_speaker(sp, engine, enroller, synthesizer, recogniser, sentences, True, None, log)
        reference = np.asarray(result.screened.embedding, np.float64)
        reference /= np.linalg.norm(reference)
        proxy[sp.name] = {}
        for name, change in chosen.items():
            profile = variant(result.profile, change)
            twin, said = say_twin(result, sentences, lambda text, v=result.base_voice, p=profile: synthesizer.speak(
                text, v, profile=p), recogniser, True)
            audio, rate = synthesizer.speak(proxy_text, result.base_voice, profile=profile)
            heard = voice_speakers._resample(np.asarray(audio, np.float32), rate)
            e = np.asarray(embed(heard), np.float64)
            proxy[sp.name][name] = {"ovrl": dnsmos.score(heard, RATE)["ovrl"],
                                    "ge2e": float(e @ reference / np.linalg.norm(e))}
            twins[name].append(twin)
            twin_clips[name][sp.name] = said
            heard_proxy = proxy[sp.name][name]
            log(f"  {name}: held-out OVRL {twin.dnsmos['clone']['ovrl']:.2f}, WER {twin.errors['clone']}/"
                f"{result.words}; proxy OVRL {heard_proxy['ovrl']:.2f}, GE2E {heard_proxy['ge2e']:.3f}")
        results.append(result)
        clips[sp.name] = speaker_clips
    if not results:
        return 1
    score_arms(results, speakers, clips, twins, twin_clips, log)
    print("| variant | GE2E | ECAPA | CAM++ | beats GE2E / ECAPA / CAM++ | WER | OVRL | proxy OVRL | proxy GE2E |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in chosen:
        group = twins[name]
        words = sum(r.words for r in group)
        print(f"| {name} | " + " | ".join(f"{np.mean([getattr(r, e)['clone'] for r in group]):.3f}"
                                         for e in ("ge2e", "ecapa", "campplus"))
              + " | " + " / ".join(str(sum(r.beats[e] for r in group)) for e in ("ge2e", "ecapa", "campplus"))
              + f" | {100 * sum(r.errors['clone'] for r in group) / max(1, words):.1f} %"
              + f" | {np.mean([r.dnsmos['clone']['ovrl'] for r in group]):.2f}"
              + f" | {np.mean([proxy[r.name][name]['ovrl'] for r in group]):.2f}"
              + f" | {np.mean([proxy[r.name][name]['ge2e'] for r in group]):.3f} |")
    if args.json:
        rows = [{"speaker": r.name, "base": r.base_voice, "words": r.words, "stockOvrl": r.dnsmos["base"]["ovrl"],
                 "variants": {name: {"ge2e": g.ge2e["clone"], "ecapa": g.ecapa["clone"],
                                     "campplus": g.campplus["clone"], "beats": g.beats, "errors": g.errors["clone"],
                                     "ovrl": g.dnsmos["clone"]["ovrl"], "proxy": proxy[r.name][name]}
                              for name in chosen for g in twins[name] if g.name == r.name}}
                for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=1))
        print_tracking(rows, chosen)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
