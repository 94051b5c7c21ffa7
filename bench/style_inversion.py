"""Style-fit A/B: each real speaker's clone without the style fit and with several fits (``voicekit.style_fit``).

Enrolment runs the fit (``kokoro_enrol.Enroller``, within its budget); this tool measures its settings on the real
speakers (docs/voice-quality.md, "Style fit in enrolment", "A speaker term in the style fit"). Each speaker is
enrolled once as the service does but without the fit (the search gets the budget less the fit's reserve, as in the
service), so every arm starts from the same searched voice. Then, for each speaker-term weight in ``--weights``, one
fit runs to the largest of ``--steps`` (no deadline), keeping the best offset after each step count listed; every
(weight, steps, scale) arm says the held-out sentences, scored by ``bench.voice_quality_real.score_all`` (GE2E,
which the speaker term optimises; ECAPA and CAM++, which only measure), pocketsphinx WER and DNSMOS OVRL.
``--speaker-band both`` fits each weight twice: the speaker term hearing the reference's band and the whole band
(shipped). ``--campplus-weights`` adds a second speaker term, CAM++'s (each pair of weights is one fit); with it
CAM++ is optimised too and ECAPA alone only measures. ``--frames`` (windows) and ``--bases`` (the offset confined to
that many principal directions of the stock timbres, ``style_fit.timbre_basis``; 0: free) take lists too, one
compiled fit each (docs/voice-quality.md, "What a fit step costs").

``.venv/bin/python -m bench.style_inversion [--speakers a,b] [--weights 4,8] [--steps 6,12] [--scales 0.5,1]
[--campplus-weights 0,2] [--speaker-band on|off|both] [--frames 80,120] [--bases 0,32] [--learning-rates 0.2,0.3]
[--windows 1,2] [--pulls 0.01,0.5] [--centres 0,1] [--ahead on|off|both] [--transcripts words,phones] [--no-dnsmos]
[--json out.json]``

``--transcripts``: what Kokoro reads to be aligned with the reference — the word recogniser's English words, or the
all-phone search's phones (``style_fit.PhoneTranscriber``), one fit each.

``--ahead``: each step evaluates the offset before its update, so a fit of k steps keeps the best of k offsets and
throws the last update away; with ``on`` that update is kept when the last step improved (``StyleInverter(ahead=…)``).

``--centres``: the share of each side's mean cepstrum taken out of the envelope match (``StyleInverter(centre=…)``),
one compiled fit each.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Arm:
    weight: float
    steps: int
    scale: float
    band: bool = False  # the speaker term hears the reference's band (False: the whole band)
    campplus: float = 0.0  # the CAM++ term's weight
    frames: int = 120  # the window fitted, decoder frames (one compiled fit each)
    basis: int = 0  # the offset confined to this many principal directions of the stock timbres (0: every dim)
    rate: float = 0.2  # Adam's learning rate (before the basis's √(128 / count))
    windows: int = 1  # consecutive windows of the transcribed segment, fitted in turn
    pull: float = 0.01  # the weight of the offset's size in the objective (style_fit.PULL)
    centre: float = 0.0  # the share of the mean cepstrum taken out of the envelope match (style_fit centre)
    ahead: bool = False  # the last update kept when the last step improved (style_fit ahead; shares the fit)
    transcript: str = "words"  # how the reference's segment is transcribed (style_fit.transcriber), one fit each
    cap: float = 0.0  # the fitted offset's largest size, spreads rms (style_fit.capped; 0: none; shares the fit)
    pitch: float = 0.0  # the share of the pitch gap closed (kokoro_enrol.pitch_match), the fit run at that pitch

    @property
    def fit(self) -> tuple[float, float, int, int, float, float, float, int, bool, str, float]:
        """What one fit serves: the arms differing only in steps, scale, cap and ahead share it."""
        return self.weight, self.campplus, self.frames, self.basis, self.rate, self.pull, self.centre, self.windows, \
            self.band, self.transcript, self.pitch


    @property
    def compiled(self) -> tuple[float, float, int, int, float, float, float]:
        """What one compiled fit serves: the window count and the band are set per fit."""
        return self.fit[:7]

    @property
    def label(self) -> str:
        return f"w={self.weight:g}{f' + CAM++ {self.campplus:g}' if self.campplus else ''}" \
               f"{'' if self.band else ' whole band'}, {self.frames} frames" \
               f"{f', {self.basis} directions' if self.basis else ''}, learning rate {self.rate:g}" \
               f"{f', {self.windows} windows' if self.windows > 1 else ''}" \
               f"{f', pull {self.pull:g}' if self.pull != 0.01 else ''}" \
               f"{f', centred {self.centre:g}' if self.centre else ''}" \
               f"{f', {self.transcript} transcript' if self.transcript != 'words' else ''}, " \
               f"{self.steps} steps{' ahead' if self.ahead else ''}, scale {self.scale:g}" \
               f"{f', capped at {self.cap:g}' if self.cap else ''}" \
               f"{f', pitch matched {self.pitch:g}' if self.pitch else ''}"


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    import argparse
    import json

    from bench import dnsmos, real_speakers, voice_speakers
    from bench.voice_quality_real import optimised_by_the_fit, run_speaker, say_twin, score_arms, summary
    from voicekit import exemplar_match, kokoro, kokoro_enrol, style_fit
    from voicekit.intelligibility import Recogniser
    from voicekit.kokoro import KokoroEngine
    from voicekit.style_fit import StyleInverter, reference_text
    from voicekit.tts import Synthesizer

    cpu = style_fit.CPU_SETTINGS
    parser = argparse.ArgumentParser(description="Style-fit A/B on the real speakers")
    parser.add_argument("--speakers", help="comma-separated subset of real speaker names")
    parser.add_argument("--sentences", type=int, default=3)
    parser.add_argument("--weights", default=f"{cpu.speaker_weight:g}", help="speaker-term weights, one fit each")
    parser.add_argument("--campplus-weights", default=f"{cpu.campplus_weight:g}",
                        help="CAM++-term weights, one fit for each with each GE2E weight")
    parser.add_argument("--steps", default=f"{cpu.steps}", help="step counts kept from each fit")
    parser.add_argument("--scales", default=f"{cpu.scale:g}", help="fractions of the fitted offset applied")
    parser.add_argument("--speaker-band", choices=("on", "off", "both"), default="off",
                        help="the speaker term hears the reference's band (on), the whole band (off), or both arms")
    parser.add_argument("--frames", default=f"{cpu.frames}",
                        help="windows fitted, decoder frames (40 a second): one fit each")
    parser.add_argument("--bases", default="0", help="offsets confined to this many principal directions of the "
                        "stock timbres (0: every dim), one fit each; the learning rate grows by √(128 / count) so "
                        "that an Adam step is as long")
    parser.add_argument("--learning-rates", default=f"{cpu.learning_rate:g}", help="Adam's, one fit each")
    parser.add_argument("--windows", default=f"{cpu.windows}",
                        help="consecutive windows of the transcribed segment fitted in turn, one fit each (raise "
                             "--segment-s with it)")
    parser.add_argument("--pulls", default=f"{cpu.pull:g}",
                        help="weights of the offset's size (mean square, spread units) in the objective, one fit each "
                             "(default: the CPU settings')")
    parser.add_argument("--centres", default=f"{cpu.centre:g}",
                        help="shares of the mean cepstrum taken out of the envelope match (0: absolute cepstra, "
                             "1: the recording's long-term colour left to the EQ), one fit each")
    parser.add_argument("--ahead", choices=("on", "off", "both"), default="on" if cpu.ahead else "off",
                        help="keep the last update when the last step improved (on), the best evaluated offset (off), "
                             "or both arms (they share each fit)")
    parser.add_argument("--caps", default=f"{cpu.cap:g}",
                        help="largest sizes of the fitted offset, spreads rms, before the scale (0: none); arms "
                             "sharing each fit")
    parser.add_argument("--transcripts", default=cpu.transcript,
                        help="how the reference's segment is transcribed for Kokoro to read: words (pocketsphinx's "
                             "recogniser), phones (its all-phone search), one fit each")
    parser.add_argument("--pitch-matches", default=f"{kokoro_enrol.PITCH_MATCH:g}",
                        help="shares of the gap between the reference's mean log-F0 and the searched voice's closed "
                             "by Kokoro's pitch input (0: none), one fit each, run at that pitch")
    parser.add_argument("--segment-s", type=float, default=cpu.segment_s, help="seconds of reference transcribed")
    parser.add_argument("--search-budget", type=float, default=kokoro_enrol.DEFAULT_BUDGET_S - cpu.reserve_s,
                        help="the search's seconds (the service's: the enrolment budget less the fit's reserve)")
    parser.add_argument("--no-dnsmos", action="store_true")
    parser.add_argument("--proxy-checks", action="store_true",
                        help="also have each arm's clone (and the unfitted one) say the enrolment's proxy text, and "
                             "record its DNSMOS and word errors in the JSON (what a check inside enrolment could see)")
    parser.add_argument("--json", help="write the per-speaker figures here")
    args = parser.parse_args(argv)

    step_counts = sorted({int(s) for s in floats(args.steps)})
    bands = {"on": [True], "off": [False], "both": [True, False]}[args.speaker_band]
    bases = [int(d) for d in floats(args.bases)]
    if any(not 0 <= d <= style_fit.STYLE_HALF for d in bases):
        parser.error(f"--bases: counts from 0 to {style_fit.STYLE_HALF}")
    transcripts = [t.strip() for t in args.transcripts.split(",") if t.strip()]
    if not transcripts or any(t not in style_fit.TRANSCRIPTS for t in transcripts):
        parser.error(f"--transcripts: {', '.join(style_fit.TRANSCRIPTS)}")
    arms = [Arm(w, k, s, b, c, int(f), d, r, int(n), q, e, h, t, m, g) for t in transcripts
            for g in floats(args.pitch_matches) for w in floats(args.weights)
            for c in floats(args.campplus_weights) for f in floats(args.frames) for d in bases
            for r in floats(args.learning_rates) for q in floats(args.pulls) for e in floats(args.centres)
            for n in floats(args.windows)
            for b in bands for k in step_counts for s in floats(args.scales)
            for h in {"on": [True], "off": [False], "both": [False, True]}[args.ahead] for m in floats(args.caps)]
    with_dnsmos = not args.no_dnsmos and dnsmos.available() is None
    speakers = [s for s in real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
                if not s.short]
    engine = KokoroEngine()
    # the fits and pitch matches run below, with the CLI's settings
    enroller = kokoro_enrol.Enroller(engine, style_fit=False, pitch_match_share=0.0)
    synthesizer = Synthesizer(kokoro=engine)
    recogniser = Recogniser()
    timbres = style_fit.stock_timbres(engine)
    spread = style_fit.timbre_spread(timbres)
    inverters = {}
    for compiled in sorted({a.compiled for a in arms}):   # one compiled fit serves both bands and window counts
        weight, campplus_weight, frames, count, rate, pull, centre = compiled
        inverter = StyleInverter(engine.directory / kokoro.MODEL_FILE, spread, frames=frames, steps=step_counts[-1],
                                 learning_rate=rate * (np.sqrt(style_fit.STYLE_HALF / count) if count
                                                                     else 1.0), pull=pull,
                                 basis=style_fit.timbre_basis(timbres, count) if count else None,
                                 match_quantile=style_fit.MATCH_QUANTILE, keep=style_fit.KEEP, speaker_weight=weight,
                                 campplus_weight=campplus_weight, centre=centre)
        log(f"fit w={weight:g}, CAM++ {campplus_weight:g}, {frames} frames, basis {count or 'none'}, learning rate "
            f"{rate:g}, pull {pull:g}, centred {centre:g} compiled in {inverter.warm_up():.1f} s")
        inverters[compiled] = inverter
    sentences = voice_speakers.HELD_OUT_TEXT[: args.sentences]
    results, clips = [], {}
    twins = {arm: [] for arm in arms}
    arm_clips = {arm: {} for arm in arms}
    fits: dict[str, dict] = {}
    proxies: dict[str, dict] = {}   # speaker → label → the proxy text's OVRL and word errors (--proxy-checks)

    def proxy_check(speak) -> dict:
        from bench import voice_speakers

        audio, rate = speak(kokoro_enrol.PROXY_TEXT)
        clip = voice_speakers._resample(np.asarray(audio, np.float32), rate)
        return {"errors": recogniser.word_errors(kokoro_enrol.PROXY_TEXT, clip),
                "ovrl": dnsmos.score(clip, 16000)["ovrl"] if with_dnsmos else None}
    for sp in speakers:
        log(f"{sp.name}: {sp.language}, {sp.native_rate} Hz")
        result, speaker_clips = run_speaker(sp, engine, enroller, synthesizer, recogniser, sentences, with_dnsmos,
                                            args.search_budget, log)
        profile = result.profile
        pack = np.asarray(synthesizer.recipe_style(profile))
        screened = result.screened   # what enrolment handed the enroller, and hands the fit
        if args.proxy_checks:
            proxies[sp.name] = {"no fit": proxy_check(lambda text, v=result.base_voice, p=profile: synthesizer.speak(
                text, v, profile=p))}
        heard = {}   # transcript → (segment, what was heard, Kokoro's tokens for it)
        for transcript in transcripts:
            hearer = recogniser if transcript == "words" else style_fit.transcriber(transcript)
            segment, text = reference_text(screened.speech, screened.rate, hearer, args.segment_s)
            heard[transcript] = segment, text, style_fit.transcript_tokens(engine, text, transcript)
        band = exemplar_match.band_edge(screened.speech, screened.rate)
        offsets: dict[Arm, np.ndarray] = {}
        fits[sp.name] = {}
        campplus_target = style_fit.campplus_target(screened.speech, screened.rate) \
            if any(a.campplus for a in arms) else None
        matched_hz = profile.get("clone", {}).get("pitchMatch", {})
        factors: dict[float, float] = {}
        for fit in sorted({a.fit for a in arms}):
            weight, campplus_weight, frames, count, rate, pull, centre, windows, matched, transcript, share = fit
            segment, text, tokens = heard[transcript]
            factors[share] = kokoro_enrol.pitch_match(
                np.log(matched_hz.get("referenceHz", np.nan)), np.log(matched_hz.get("voiceHz", np.nan)),
                share)["factor"]
            inverter = inverters[next(a.compiled for a in arms if a.fit == fit)]
            inverter.speaker_band, inverter.windows = matched, windows
            found = inverter.invert(segment, screened.rate, text, tokens, kokoro.style_row(pack, len(tokens)), band,
                                    engine.infer(tokens, pack, pitch=factors[share]),
                                    speaker=np.asarray(screened.embedding, np.float32), snapshots=step_counts,
                                    campplus=campplus_target, pitch=factors[share]) if tokens else None
            key = f"{weight:g}" + (f"+c{campplus_weight:g}" if campplus_weight else "") \
                + ("" if matched else " whole band") + ("" if frames == cpu.frames else f" {frames} frames") \
                + (f" basis {count}" if count else "") + ("" if rate == cpu.learning_rate else f" lr {rate:g}") \
                + ("" if windows == cpu.windows else f" {windows} windows") \
                + ("" if pull == style_fit.PULL else f" pull {pull:g}") + (f" centred {centre:g}" if centre else "") \
                + ("" if transcript == "words" else f" {transcript}") \
                + (f" pitch {share:g} (x{factors[share]:.3f})" if share else "")
            fits[sp.name][key] = {**found.report(), "history": [round(h, 4) for h in found.history]} \
                if found is not None else None
            log(f"  w={key} (band {band:.0f} Hz): "
                + (f"fit {found.fit_start:.3f} -> {found.fit_end:.3f}, speaker {found.speaker_start} -> "
                   f"{found.speaker_end}, CAM++ {found.campplus_start} -> {found.campplus_end} in {found.steps} "
                   f"steps, {found.seconds:.1f} s ({(found.seconds - found.prepare_s) / max(found.steps, 1):.2f} s a "
                   f"step), offset {style_fit.offset_size(found.offset, spread):.2f} spreads rms"
                   if found
                   else f"not fitted (heard '{text}')"))
            for arm in arms:
                if arm.fit == fit:
                    kept = (found.ahead_snapshots if arm.ahead else found.snapshots).get(arm.steps, found.offset) \
                        if found is not None else None
                    offsets[arm] = arm.scale * style_fit.capped(kept, spread, arm.cap) if kept is not None \
                        else np.zeros(style_fit.STYLE_HALF, np.float32)
        for arm in arms:
            fitted_pack = kokoro_enrol.with_offset(pack, offsets[arm])
            synthesizer.recipe_style = lambda _profile, p=fitted_pack: p  # this speaker's clone with the offset
            pitched = {**profile, kokoro_enrol.PITCH_KEY: factors[arm.pitch]}
            try:
                twin, said = say_twin(result, sentences, lambda text, v=result.base_voice, p=pitched: synthesizer.speak(
                    text, v, profile=p), recogniser, with_dnsmos)
                if args.proxy_checks:
                    proxies[sp.name][arm.label] = proxy_check(
                        lambda text, v=result.base_voice, p=pitched: synthesizer.speak(text, v, profile=p))
            finally:
                del synthesizer.recipe_style
            twins[arm].append(twin)
            arm_clips[arm][sp.name] = said
        results.append(result)
        clips[sp.name] = speaker_clips
    if not results:
        return 1
    score_arms(results, speakers, clips, twins, arm_clips, log)
    groups = [("no fit (the searched voice, EQ and exemplar step)", results, {"ge2e"})] + \
             [(arm.label, twins[arm], optimised_by_the_fit(arm.campplus)) for arm in arms]
    print("| fit | GE2E clone | ECAPA clone | CAM++ clone | beats GE2E / ECAPA / CAM++ / MFCC | WER clone "
          f"(stock {100 * sum(r.errors['base'] for r in results) / max(1, sum(r.words for r in results)):.1f} %) "
          "| OVRL clone |")
    print("|---|---|---|---|---|---|---|")
    for label, group, _ in groups:
        n, words = len(group), sum(r.words for r in group)
        ovrl = f"{np.mean([r.dnsmos['clone']['ovrl'] for r in group]):.2f}" if with_dnsmos else "—"
        print(f"| {label} | " + " | ".join(f"{np.mean([getattr(r, e)['clone'] for r in group]):.3f}"
                                          for e in ("ge2e", "ecapa", "campplus"))
              + " | " + " / ".join(str(sum(r.beats[e] for r in group)) for e in ("ge2e", "ecapa", "campplus", "mfcc"))
              + f" of {n} | {100 * sum(r.errors['clone'] for r in group) / max(1, words):.1f} % | {ovrl} |")
    for label, group, optimised in groups:
        print(label + ":")
        for line in summary(group, True, optimised):
            print("  " + line)
    if args.json:
        rows = [{"speaker": r.name, "fits": fits[r.name], "words": r.words, "proxy": proxies.get(r.name),
                 "arms": {label: {"ge2e": g.ge2e["clone"], "ecapa": g.ecapa["clone"], "campplus": g.campplus["clone"],
                                  "mfcc": g.mfcc["clone"], "beats": g.beats, "errors": g.errors["clone"],
                                  "ovrl": g.dnsmos.get("clone", {}).get("ovrl")}
                          for label, group, _ in groups for g in group if g.name == r.name}}
                for r in results]
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
