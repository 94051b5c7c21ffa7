"""Style-fit A/B: each real speaker's clone with and without the style fit's offset (``voicekit.style_fit``).

Enrolment runs the fit (``kokoro_enrol.Enroller``, within its budget); this tool measures it on the real speakers
(docs/voice-quality.md, "Style inversion through Kokoro's decoder" and "Style fit in enrolment"): each speaker is
enrolled as the service does but without the fit, the fit then runs with the settings given here (no deadline),
and both clones say the held-out sentences, scored by ``bench.voice_quality_real.score_all``.

``.venv/bin/python -m bench.style_inversion [--speakers a,b] [--frames 80] [--steps 6] [--learning-rate 0.2]
[--keep 0.25] [--scale 0.5] [--json out.json]`` (session 12's setting: ``--frames 120 --steps 12 --learning-rate
0.1``)
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from voicekit.kokoro_enrol import with_offset
from voicekit.style_fit import STYLE_HALF, StyleInverter, reference_text


def main(argv=None) -> int:
    import argparse
    import copy
    import json
    import sys

    from bench import real_speakers, voice_speakers
    from bench.voice_quality_real import RATE, run_speaker, score_all, summary
    from voicekit import exemplar_match, kokoro, kokoro_enrol, style_fit
    from voicekit.intelligibility import Recogniser
    from voicekit.kokoro import KokoroEngine
    from voicekit.tts import Synthesizer

    parser = argparse.ArgumentParser(description="Style inversion A/B on the real speakers")
    parser.add_argument("--speakers", help="comma-separated subset of real speaker names")
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument("--frames", type=int, default=style_fit.CPU_SETTINGS.frames,
                        help="decoder frames fitted (40 a second)")
    parser.add_argument("--steps", type=int, default=style_fit.CPU_SETTINGS.steps)
    parser.add_argument("--learning-rate", type=float, default=style_fit.CPU_SETTINGS.learning_rate)
    parser.add_argument("--pull", type=float, default=style_fit.PULL)
    parser.add_argument("--match-quantile", type=float, default=style_fit.MATCH_QUANTILE)
    parser.add_argument("--keep", type=float, default=style_fit.KEEP)
    parser.add_argument("--segment-s", type=float, default=style_fit.CPU_SETTINGS.segment_s,
                        help="seconds of reference transcribed")
    parser.add_argument("--scale", type=float, default=style_fit.SCALE,
                        help="fraction of the fitted offset applied (0.5: no word errors added in the scratch A/B)")
    parser.add_argument("--json", help="write the per-speaker figures here")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    speakers = [s for s in real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
                if not s.short]
    engine = KokoroEngine()
    enroller = kokoro_enrol.Enroller(engine, style_fit=False)   # the fit runs below, with the CLI's settings
    synthesizer = Synthesizer(kokoro=engine)
    recogniser = Recogniser()
    spread = style_fit.timbre_spread(style_fit.stock_timbres(engine))
    inverter = StyleInverter(engine.directory / kokoro.MODEL_FILE, spread, frames=args.frames,
                             steps=args.steps, learning_rate=args.learning_rate, pull=args.pull,
                             match_quantile=args.match_quantile, keep=args.keep)
    log(f"fit compiled in {inverter.warm_up():.1f} s")
    sentences = voice_speakers.HELD_OUT_TEXT[: args.sentences]
    results, clips, inverted, fits = [], {}, {}, {}
    for sp in speakers:
        log(f"{sp.name}: {sp.language}, {sp.native_rate} Hz")
        result, speaker_clips = run_speaker(sp, engine, enroller, synthesizer, recogniser, sentences, False, None, log)
        profile = result.profile
        pack = np.asarray(synthesizer.recipe_style(profile))
        segment, text = reference_text(sp.reference, RATE, recogniser, args.segment_s)
        tokens = style_fit.english_tokens(engine, text)
        found = inverter.invert(segment, RATE, text, tokens, kokoro.style_row(pack, len(tokens)),
                                exemplar_match.band_edge(sp.reference, RATE), engine.infer(tokens, pack)) \
            if tokens else None
        offset = args.scale * found.offset if found is not None else np.zeros(STYLE_HALF, np.float32)
        fits[sp.name] = found.report() if found is not None else None
        log(f"  heard '{text[:70]}'; " + (f"fit {found.fit_start:.3f} -> {found.fit_end:.3f} in {found.steps} steps, "
                                          f"{found.seconds:.1f} s" if found else "not fitted (too little text)"))
        fitted_pack = with_offset(pack, offset)
        synthesizer.recipe_style = lambda _profile, p=fitted_pack: p  # this speaker's clone with the offset
        twin = copy.copy(result)
        twin.errors = dict(result.errors, clone=0)
        twin.profile = {}
        clips_inverted = []
        try:
            for sentence in sentences:
                audio, rate = synthesizer.speak(sentence, result.base_voice, profile=profile)
                clip = voice_speakers._resample(np.asarray(audio, np.float32), rate)
                clips_inverted.append(clip)
                twin.errors["clone"] += recogniser.word_errors(sentence, clip)
        finally:
            del synthesizer.recipe_style
        results.append(result)
        inverted[sp.name] = (twin, clips_inverted)
        clips[sp.name] = speaker_clips
    if not results:
        return 1
    score_all(results, speakers, clips, log)
    twins = []
    for r in results:
        twin = inverted[r.name][0]
        twin.ge2e, twin.ecapa, twin.campplus, twin.mfcc, twin.beats = {}, {}, {}, {}, {}
        twins.append(twin)
    clips_inverted_all = {name: {**c, "clone": inverted[name][1]} for name, c in clips.items()}
    score_all(twins, speakers, clips_inverted_all, log)
    rows = []
    print("| speaker | GE2E clone / inverted | ECAPA clone / inverted | CAM++ clone / inverted "
          "| WER clone / inverted |")
    print("|---|---|---|---|---|")
    for r, t in zip(results, twins, strict=True):
        print(f"| {r.name} | {r.ge2e['clone']:.3f} / {t.ge2e['clone']:.3f} | {r.ecapa['clone']:.3f} / "
              f"{t.ecapa['clone']:.3f} | {r.campplus['clone']:.3f} / {t.campplus['clone']:.3f} | "
              f"{100 * r.wer('clone'):.0f} / {100 * t.wer('clone'):.0f} % |")
        rows.append({"speaker": r.name, "fit": fits[r.name],
                     **{f"{e}_{arm}": getattr(x, e)["clone"] for e in ("ge2e", "ecapa", "campplus", "mfcc")
                        for arm, x in (("clone", r), ("inverted", t))},
                     "errors_clone": r.errors["clone"], "errors_inverted": t.errors["clone"], "words": r.words})
    for label, group in (("shipped clone", results), ("clone + fitted offset", twins)):
        print(label + ":")
        for line in summary(group, True):
            print("  " + line)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
