"""What enrolment's style fit costs (``voicekit.style_fit.Fitter``): build and compile time, the process's memory,
and each fit's seconds (transcription and Kokoro's reading, alignment, gradient steps) on the real speakers'
references. docs/inference.md ("Memory") and docs/voice-quality.md ("Style fit in enrolment") quote it.

``.venv/bin/python -m bench.style_fit_cost [--speakers a,b] [--frames 120] [--steps 6]`` (stop the stack first:
the figures are for an idle machine).
"""
from __future__ import annotations

import argparse
import dataclasses
import resource
import time

import numpy as np


def rss_mib() -> int:
    with open("/proc/self/status") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


def peak_mib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def main(argv=None) -> int:
    from bench import real_speakers
    from bench.voice_quality_real import RATE
    from voicekit import exemplar_match, pitch, style_fit
    from voicekit.kokoro import KokoroEngine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speakers", help="comma-separated real speaker names (default: every long one)")
    parser.add_argument("--frames", type=int, default=style_fit.CPU_SETTINGS.frames)
    parser.add_argument("--steps", type=int, default=style_fit.CPU_SETTINGS.steps)
    args = parser.parse_args(argv)

    engine = KokoroEngine()
    print(f"Kokoro engine: RSS {rss_mib()} MiB")
    started = time.monotonic()
    settings = dataclasses.replace(style_fit.CPU_SETTINGS, frames=args.frames, steps=args.steps)
    fitter = style_fit.Fitter(engine, settings=settings, background=False, log=print)
    if not fitter.ready:
        return 1
    print(f"fitter built and compiled in {time.monotonic() - started:.1f} s (compile {fitter.compile_s:.1f} s); "
          f"RSS {rss_mib()} MiB, peak {peak_mib()} MiB")
    speakers = [s for s in real_speakers.load(names=args.speakers.split(",") if args.speakers else None)
                if not s.short]
    totals, steps = [], []
    for sp in speakers:
        # the fit starts from whatever style the search kept; a stock voice of the speaker's sex stands in for it
        stats = pitch.stats(pitch.track(sp.reference, RATE))
        pack = engine.voice_pack("af_heart" if stats is None or stats.median_hz > 160 else "am_michael")
        began = time.monotonic()
        offset, report = fitter.fit(sp.reference, RATE, pack, exemplar_match.band_edge(sp.reference, RATE))
        total = time.monotonic() - began
        totals.append(total)
        if "steps" in report:
            steps.append((report["seconds"] - report["prepareS"]) / max(report["steps"], 1))
        size = float(np.abs(offset).max()) if offset is not None else 0.0
        print(f"{sp.name}: {total:.1f} s {report} max |offset| {size:.3f}; RSS {rss_mib()} MiB, peak {peak_mib()} MiB")
    if totals:
        print(f"fit seconds: median {np.median(totals):.1f}, p99 {np.percentile(totals, 99):.1f}, n {len(totals)}; "
              f"per step median {np.median(steps):.2f} s; RSS {rss_mib()} MiB, peak {peak_mib()} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
