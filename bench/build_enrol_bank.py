"""Build the Kokoro enrolment bank (``voicekit/data/kokoro_enrol_bank.npz``) — run once when Kokoro, the GE2E
encoder or ``kokoro_enrol.bank_recipes`` change; the result is committed (≈ 45 KB).

    .venv/bin/python -m bench.build_enrol_bank [--out PATH] [--mixtures 32] [--extrapolations 12]

Each bank voice (stock English voices, same-sex mixtures, mild extrapolations: ``kokoro_enrol.bank_recipes``)
says ``kokoro_enrol.PROXY_TEXT`` through ``voicekit.kokoro.KokoroEngine``; its GE2E embedding (fixed level) and
mean log-F0 are stored with its coefficients. Cost ≈ 1.5-2 s per voice on 2 idle cores.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from voicekit import kokoro_enrol as ke
from voicekit import pitch, speaker_encoder
from voicekit.kokoro import KokoroEngine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ke.BANK_FILE))
    parser.add_argument("--mixtures", type=int, default=32)
    parser.add_argument("--extrapolations", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    engine = KokoroEngine()
    _, packs = ke.proxy_speaker(engine)

    def speak(pack: np.ndarray):
        from voicekit.kokoro import SAMPLE_RATE, tokenize

        pieces = [tokenize(p, engine.vocab) for p in engine.phoneme_pieces(ke.PROXY_TEXT, "en-us")]
        return np.concatenate([engine.infer(t, pack) for t in pieces]), SAMPLE_RATE

    def log_f0(audio: np.ndarray, rate: int) -> float:
        stats = pitch.stats(pitch.track(audio, rate))
        return stats.log_mean if stats is not None else float("nan")

    started = time.monotonic()
    bank = ke.build_bank(packs, speak, lambda a, r: speaker_encoder.embed(a, r, fixed_level=True), log_f0,
                         mixtures=args.mixtures, extrapolations=args.extrapolations, seed=args.seed,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bank.to_bytes())
    print(f"{len(bank)} voices in {time.monotonic() - started:.0f} s → {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
