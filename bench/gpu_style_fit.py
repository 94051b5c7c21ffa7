"""The style fit on a GPU: what more steps and a longer window give when the decoder's gradient is cheap.

On 2 CPU cores a fit step costs ≈ 2.2 s, so enrolment runs 6 steps on a 3 s window (docs/voice-quality.md, "Style
fit in enrolment"). A GPU deployment runs the same JAX code (``voicekit.style_fit``) on the GPU. This tool splits
the fit where it can travel, in three steps:

1. ``export`` (here, CPU): enrol each real speaker as the service does but without the fit (``--budget``, default
   60 s: the whole budget goes to the search, as on a GPU where the fit takes seconds), then
   ``StyleInverter.prepare`` for each window (Kokoro's reading, alignment, the decoder's style-independent inputs)
   and save the problems, the style-dependent decoder (``DecoderGraph.save``), the stock spread and the profiles;
2. ``fit`` (the GPU machine: JAX only, no ONNX Runtime, no Kokoro model): for each setting compile the fit, run
   ``StyleInverter.descend`` for every speaker with snapshots of the offset along the way, time compile, steps and
   the decoder's forward pass; write ``offsets.npz`` and ``fit.json``;
3. ``score`` (here): each arm's offsets (× ``--scale``) in the profile, the held-out sentences synthesised as the
   ``synthesize`` model does, scored by ``bench.voice_quality_real.score_all`` (GE2E, ECAPA, CAM++, MFCC, beats every
   other speaker, WER), next to the clone without an offset.

    .venv/bin/python -m bench.gpu_style_fit export --out gpufit [--speakers a,b] [--budget 60]
    python3 -m bench.gpu_style_fit fit --problems gpufit --out OUT [--settings 120:6:0.2,480:40:0.1]
    .venv/bin/python -m bench.gpu_style_fit score --problems gpufit --offsets OUT/offsets.npz [--arms ...]
    .venv/bin/python -m bench.gpu_style_fit cpu-part [--speakers a,b]   # what stays on the CPU, timed

A setting is ``frames:steps:learning_rate`` (a window of ``frames`` decoder frames, 40 a second; the reference
segment transcribed is ``frames / 20`` seconds, as enrolment's 6 s for 120 frames). Arms are ``frames:steps@k``
(the offset after k steps of that setting), optionally ``x`` and the fraction applied (``240:80@80x0.35``; default
``--scale``), or ``none``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

DEFAULT_SETTINGS = "120:6:0.2,120:40:0.1,240:40:0.1"
SNAPSHOTS = (6, 12, 20, 40, 80)
# The decoder's tensors whose consumers also run in JAX here, so that what travels per speaker is small: the
# harmonic source's spectrum (magnitude and phase; its 128- and 256-channel convolutions and their normalisations
# are 15 times larger) and the decoder's input (the encode block's shortcut convolution and normalisation).
SOURCES = ("/decoder/decoder/generator/Concat_3_output_0", "/decoder/decoder/Concat_output_0")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_settings(text: str) -> list[tuple[int, int, float]]:
    """``"120:6:0.2,480:40:0.1"`` → [(frames, steps, learning rate), ...]."""
    out = []
    for item in text.split(","):
        frames, steps, rate = item.split(":")
        out.append((int(frames), int(steps), float(rate)))
    return out


def _save_arrays(path: Path, arrays: dict[str, np.ndarray], half: bool = False) -> None:
    """npz with the ONNX tensor names (which hold '/') kept in a JSON list beside positional keys; ``half``: float32
    arrays larger than 4 kB travel as float16 (the device's upload limit), read back as float32."""
    names = list(arrays)
    stored = {f"a{i}": arrays[n].astype(np.float16) if half and arrays[n].dtype == np.float32 and arrays[n].size > 1024
              else arrays[n] for i, n in enumerate(names)}
    np.savez_compressed(path, names=np.array(json.dumps(names)), **stored)


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        names = json.loads(str(data["names"]))
        return {n: data[f"a{i}"].astype(np.float32) if data[f"a{i}"].dtype == np.float16 else data[f"a{i}"]
                for i, n in enumerate(names)}


# --------------------------------------------------------------------------------------------------- export


def export(args) -> int:
    from bench import real_speakers
    from bench.voice_quality_real import RATE
    from voicekit import decode, enrolment, exemplar_match, kokoro, kokoro_enrol, style_fit
    from voicekit import profile as voice_profile
    from voicekit.intelligibility import Recogniser
    from voicekit.kokoro import KokoroEngine
    from voicekit.pcm import write_wav
    from voicekit.tts import Synthesizer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    frames_wanted = sorted({frames for frames, _, _ in parse_settings(args.settings)})
    speakers = [s for s in real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
                if not s.short]
    engine = KokoroEngine()
    enroller = kokoro_enrol.Enroller(engine, style_fit=False)
    synthesizer = Synthesizer(kokoro=engine)
    recogniser = Recogniser()
    spread = style_fit.timbre_spread(style_fit.stock_timbres(engine))
    np.save(out / "spread.npy", spread)
    graph = style_fit.DecoderGraph(engine.directory / kokoro.MODEL_FILE, sources=SOURCES)
    graph.save(out / "decoder-style.npz")
    inverters = {}
    for frames in frames_wanted:
        inverters[frames] = style_fit.StyleInverter(graph, spread, frames=frames,
                                                    match_quantile=style_fit.MATCH_QUANTILE)   # as enrolment
        _save_arrays(out / f"fixed-{frames}.npz", inverters[frames].fixed)
    manifest: dict = {"settings": args.settings, "budget": args.budget, "speakers": {}}
    for sp in speakers:
        started = time.monotonic()
        samples, container = decode.decode(write_wav(sp.reference, RATE), rate=enrolment.RATE,
                                           max_seconds=enrolment.MAX_DURATION_S)
        screened = enrolment.screen(samples, enrolment.RATE)
        profile, found = enroller.enroll(screened, container, budget=args.budget, started=started)
        enrol_s = time.monotonic() - started
        profile = voice_profile.parse(enrolment.Enrolment(profile, screened.duration_s,
                                                          profile["engineVoice"]).profile_json)
        pack = np.asarray(synthesizer.recipe_style(profile))
        band = exemplar_match.band_edge(sp.reference, RATE)
        entry = {"profile": profile, "enrolS": round(enrol_s, 1), "evaluations": int(found.evaluations),
                 "windows": {}}
        for frames, inverter in inverters.items():
            segment, text = style_fit.reference_text(sp.reference, RATE, recogniser, frames / 20)
            tokens = style_fit.english_tokens(engine, text)
            problem = inverter.prepare(segment, RATE, tokens, kokoro.style_row(pack, len(tokens)), band,
                                       engine.infer(tokens, pack)) if tokens else None
            entry["windows"][str(frames)] = {"text": text, "prepared": problem is not None}
            if problem is not None:
                _save_arrays(out / f"{sp.name}-{frames}.npz",
                             {"style": problem.style, "filters": problem.filters, "targets": problem.targets,
                              "weights": problem.weights, **{"static:" + k: v for k, v in problem.static.items()}},
                             half=args.half)
        manifest["speakers"][sp.name] = entry
        _log(f"{sp.name}: enrolled in {enrol_s:.1f} s ({found.evaluations} syntheses, {profile['engineVoice']}); "
             + "; ".join(f"{f} frames: {'ok' if w['prepared'] else 'not prepared'} '{w['text'][:50]}'"
                         for f, w in entry["windows"].items()))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    size = sum(p.stat().st_size for p in out.iterdir())
    _log(f"exported {len(speakers)} speakers to {out} ({size / 2**20:.1f} MiB)")
    return 0


# --------------------------------------------------------------------------------------------------- fit


def fit(args) -> int:
    import jax

    from voicekit.style_fit import FRAME, SAMPLE_RATE, DecoderGraph, FitProblem, StyleInverter

    problems = Path(args.problems)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((problems / "manifest.json").read_text())
    devices = [str(d) for d in jax.devices()]
    _log(f"jax {jax.__version__} on {devices}")
    started = time.monotonic()
    graph = DecoderGraph.load(problems / "decoder-style.npz")
    spread = np.load(problems / "spread.npy")
    report: dict = {"jax": jax.__version__, "devices": devices, "loadS": round(time.monotonic() - started, 1),
                    "settings": {}}
    offsets: dict[str, np.ndarray] = {}
    inverters: dict[int, StyleInverter] = {}   # one compiled fit per window; steps and rate are the loop's
    names = args.speakers.split(",") if args.speakers else list(manifest["speakers"])
    for frames, steps, rate in parse_settings(args.settings):
        key = f"{frames}:{steps}"
        problems_here = {}
        for name in names:
            path = problems / f"{name}-{frames}.npz"
            if path.exists():
                arrays = _load_arrays(path)
                problems_here[name] = FitProblem(arrays["style"], {k[7:]: v for k, v in arrays.items()
                                                                   if k.startswith("static:")},
                                                 arrays["filters"], arrays["targets"], arrays["weights"])
        if not problems_here:
            continue
        compile_s = 0.0
        if frames not in inverters:
            inverters[frames] = StyleInverter(graph, spread, frames=frames, pull=args.pull,
                                              match_quantile=args.match_quantile, keep=args.keep,
                                              fixed=_load_arrays(problems / f"fixed-{frames}.npz"))
            compile_s = inverters[frames].warm_up(like=next(iter(problems_here.values())).static)
        inverter = inverters[frames]
        inverter.steps, inverter.learning_rate = steps, rate
        step_s, fits, forward_s = [], {}, []
        for name, problem in problems_here.items():
            found = inverter.descend(problem, snapshots=SNAPSHOTS)
            step_s.append((found.seconds - found.prepare_s) / max(1, found.steps))
            for k, offset in found.snapshots.items():
                offsets[f"{name}|{key}@{k}"] = offset
            offsets[f"{name}|{key}@{found.steps}"] = found.offset
            fits[name] = {"fitStart": round(found.fit_start, 4), "fitEnd": round(found.fit_end, 4),
                          "history": [round(h, 4) for h in found.history], "seconds": round(found.seconds, 2)}
            for _ in range(3):   # the decoder's forward pass alone (synthesis's main cost), warm
                t0 = time.perf_counter()
                inverter.render(problem).block_until_ready()
                forward_s.append(time.perf_counter() - t0)
        window_s = frames * FRAME / SAMPLE_RATE
        summary = {"frames": frames, "windowS": window_s, "steps": steps, "learningRate": rate,
                   "compileS": round(compile_s, 1), "speakers": len(fits),
                   "stepS": {"median": statistics.median(step_s), "p99": float(np.percentile(step_s, 99))},
                   "forwardS": {"median": statistics.median(forward_s), "p99": float(np.percentile(forward_s, 99))},
                   "forwardRTF": statistics.median(forward_s) / window_s, "fits": fits}
        report["settings"][key] = summary
        _log(f"{key} (lr {rate}, {window_s:.0f} s window): compile {compile_s:.1f} s; step median "
             f"{1000 * summary['stepS']['median']:.1f} ms, p99 {1000 * summary['stepS']['p99']:.1f} ms; decoder "
             f"forward median {1000 * summary['forwardS']['median']:.1f} ms (RTF {summary['forwardRTF']:.4f}); fit "
             f"error mean {np.mean([f['fitStart'] for f in fits.values()]):.3f} -> "
             f"{np.mean([f['fitEnd'] for f in fits.values()]):.3f} over {len(fits)} speakers")
        np.savez(out / "offsets.npz", **offsets)   # after each setting: a run cut short keeps what it did
        (out / "fit.json").write_text(json.dumps(report, indent=1))
    return 0


# --------------------------------------------------------------------------------------------------- score


def arm_scale(arm: str, default: float) -> tuple[str, float]:
    """``"240:80@80x0.35"`` → ("240:80@80", 0.35); without ``x``, the default scale."""
    key, _, scale = arm.partition("x")
    return key, float(scale) if scale else default


def score(args) -> int:
    import copy

    from bench import dnsmos, real_speakers, voice_speakers
    from bench.voice_quality_real import RATE, RealResult, score_all, summary
    from voicekit import profile as voice_profile
    from voicekit.intelligibility import Recogniser, words
    from voicekit.kokoro import KokoroEngine
    from voicekit.pcm import join_segments
    from voicekit.tts import Synthesizer

    problems = Path(args.problems)
    manifest = json.loads((problems / "manifest.json").read_text())
    offsets = dict(np.load(args.offsets)) if args.offsets else {}
    names = list(manifest["speakers"])
    speakers = real_speakers.load(names=names)
    engine = KokoroEngine()
    synthesizer = Synthesizer(kokoro=engine)
    recogniser = Recogniser()
    sentences = voice_speakers.HELD_OUT_TEXT[: args.sentences]
    arms = args.arms.split(",")
    results: dict[str, list[RealResult]] = {arm: [] for arm in arms}
    clips: dict[str, dict[str, dict[str, list[np.ndarray]]]] = {arm: {} for arm in arms}
    for sp in speakers:
        entry = manifest["speakers"][sp.name]
        base = RealResult(name=sp.name, language=sp.language, native_rate=sp.native_rate,
                          reference_s=sp.reference_s, base_voice=entry["profile"]["engineVoice"],
                          enrol_s=entry["enrolS"])
        base_clips = []
        for text in sentences:
            audio, rate = synthesizer.speak(text, base.base_voice)
            base_clips.append(voice_speakers._resample(np.asarray(audio, np.float32), rate))
            base.errors["base"] += recogniser.word_errors(text, base_clips[-1])
            base.words += len(words(text))
        for arm in arms:
            profile = dict(entry["profile"])
            if arm != "none":
                key, scale = arm_scale(arm, args.scale)
                offset = offsets.get(f"{sp.name}|{key}")
                if offset is None:
                    _log(f"{sp.name}: no offset for {key} (not fitted): scored without one")
                else:
                    profile["styleOffset"] = [float(v) for v in scale * offset]
            profile = voice_profile.parse(json.dumps(profile))
            result = copy.deepcopy(base)
            spoken = []
            for text in sentences:
                audio, rate = synthesizer.speak(text, base.base_voice, profile=profile)
                spoken.append(voice_speakers._resample(np.asarray(audio, np.float32), rate))
                result.errors["clone"] += recogniser.word_errors(text, spoken[-1])
            if args.dnsmos:   # the clone's sentences joined, as bench.voice_quality_real scores them
                result.dnsmos["clone"] = dnsmos.score(join_segments(spoken, RATE, gap_s=0.3), RATE)
            results[arm].append(result)
            clips[arm][sp.name] = {"own": list(sp.held_out), "base": base_clips, "clone": spoken}
        _log(f"{sp.name}: {len(arms)} arms synthesised")
    rows = {}
    for arm in arms:
        score_all(results[arm], speakers, clips[arm], lambda message: None)
        print(f"{arm} (scale {arm_scale(arm, args.scale)[1] if arm != 'none' else 0}):")
        for line in summary(results[arm], True, {"ge2e"}):   # these fits have no CAM++ term
            print("  " + line)
        if args.dnsmos:
            ovrl = [r.dnsmos["clone"]["ovrl"] for r in results[arm]]
            print(f"  DNSMOS OVRL clone: mean {np.mean(ovrl):.2f}, min {min(ovrl):.2f}")
        rows[arm] = [{"speaker": r.name, **{e: getattr(r, e)["clone"] for e in ("ge2e", "ecapa", "campplus", "mfcc")},
                      "beats": r.beats, "errorsClone": r.errors["clone"], "errorsBase": r.errors["base"],
                      "words": r.words} for r in results[arm]]
    print("| speaker | " + " | ".join(f"{arm} GE2E / ECAPA / CAM++ / WER" for arm in arms) + " |")
    print("|---|" + "---|" * len(arms))
    for k, name in enumerate(r.name for r in results[arms[0]]):
        cells = []
        for arm in arms:
            r = results[arm][k]
            cells.append(f"{r.ge2e['clone']:.3f} / {r.ecapa['clone']:.3f} / {r.campplus['clone']:.3f} / "
                         f"{100 * r.wer('clone'):.0f} %")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=float))
    return 0


# --------------------------------------------------------------------------------------------------- cpu part


def cpu_part(args) -> int:
    """What stays on the CPU when the fit runs on a GPU, timed per speaker: transcription, Kokoro's reading, prepare
    (for ``GPU_SETTINGS`` and ``CPU_SETTINGS``; the starting style is a stock voice, as in bench.style_fit_cost)."""
    from bench import real_speakers
    from bench.voice_quality_real import RATE
    from voicekit import exemplar_match, kokoro, style_fit
    from voicekit.intelligibility import Recogniser
    from voicekit.kokoro import KokoroEngine

    engine, recogniser = KokoroEngine(), Recogniser()
    spread = style_fit.timbre_spread(style_fit.stock_timbres(engine))
    speakers = [s for s in real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
                if not s.short]
    for label, settings in (("GPU", style_fit.GPU_SETTINGS), ("CPU", style_fit.CPU_SETTINGS)):
        inverter = style_fit.StyleInverter(engine.directory / kokoro.MODEL_FILE, spread, frames=settings.frames,
                                           match_quantile=style_fit.MATCH_QUANTILE)
        totals = []
        for sp in speakers:
            pack = engine.voice_pack("am_michael")
            t0 = time.monotonic()
            segment, text = style_fit.reference_text(sp.reference, RATE, recogniser, settings.segment_s)
            t1 = time.monotonic()
            tokens = style_fit.english_tokens(engine, text)
            reading = engine.infer(tokens, pack)
            t2 = time.monotonic()
            inverter.prepare(segment, RATE, tokens, kokoro.style_row(pack, len(tokens)),
                             exemplar_match.band_edge(sp.reference, RATE), reading)
            t3 = time.monotonic()
            totals.append(t3 - t0)
            print(f"{label} {sp.name}: {len(segment) / RATE:.1f} s transcribed in {t1 - t0:.1f} s, reading "
                  f"({len(reading) / kokoro.SAMPLE_RATE:.1f} s) {t2 - t1:.1f} s, prepare {t3 - t2:.1f} s: "
                  f"{t3 - t0:.1f} s")
        print(f"{label} settings' CPU part: median {statistics.median(totals):.1f} s, max {max(totals):.1f} s, "
              f"n {len(totals)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from voicekit import style_fit  # enrolment's settings are the defaults

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("export", help="enrol the real speakers and save the fit problems (CPU, Kokoro installed)")
    p.add_argument("--out", required=True)
    p.add_argument("--speakers", help="comma-separated subset of real speaker names")
    p.add_argument("--budget", type=float, default=60.0, help="enrolment budget, s (all of it for the search)")
    p.add_argument("--settings", default=DEFAULT_SETTINGS, help="frames:steps:learning_rate,... (windows exported)")
    p.add_argument("--half", action="store_true", help="large inputs as float16 (to fit the device's upload limit)")
    p = sub.add_parser("fit", help="run the fits (JAX; a GPU where jax has one)")
    p.add_argument("--problems", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--settings", default=DEFAULT_SETTINGS)
    p.add_argument("--speakers", help="comma-separated subset of the exported speakers")
    p.add_argument("--pull", type=float, default=style_fit.PULL)
    p.add_argument("--match-quantile", type=float, default=style_fit.MATCH_QUANTILE)
    p.add_argument("--keep", type=float, default=style_fit.KEEP)
    p = sub.add_parser("score", help="score each arm's offsets on held-out sentences (CPU, Kokoro installed)")
    p.add_argument("--problems", required=True)
    p.add_argument("--offsets", help="offsets.npz from fit")
    p.add_argument("--arms", default="none,120:6@6,480:40@40")
    p.add_argument("--scale", type=float, default=style_fit.SCALE)
    p.add_argument("--sentences", type=int, default=4)
    p.add_argument("--json")
    p.add_argument("--dnsmos", action="store_true", help="DNSMOS of each arm's clone (bench.dnsmos)")
    p = sub.add_parser("cpu-part", help="time what stays on the CPU (transcription, reading, alignment)")
    p.add_argument("--speakers", default="asterisk-en-allison,fillets-nl-small,librivox-sense-sensibility,"
                                        "asterisk-es-july")
    args = parser.parse_args(argv)
    return {"export": export, "fit": fit, "score": score, "cpu-part": cpu_part}[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
