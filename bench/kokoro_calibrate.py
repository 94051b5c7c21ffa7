"""The activation ranges of Kokoro's int8 generator convolutions (``stack/kokoro_graph.py``, ``QUANTIZED_CONVS``).

    .venv/bin/python -m bench.kokoro_calibrate [--out stack/kokoro_ranges.json]

Runs the float-convolution model (the stack's Kokoro assets) over a calibration set and writes, for each quantized
convolution, the lowest and highest value its input and output took (``kokoro_graph.calibrate``). The set covers
what the service feeds the network: every English stock voice (each saying one of the held-out benchmark
sentences, in turn), every other language's stock voices in their own language, speeds 0.7 and 1.4, pitch factors
0.8 and 1.25 (a clone's pitch match), extrapolated mixtures of two voices of one sex (where enrolment's search
goes, up to 0.6 beyond a voice) and stock voices moved off the stock span by random timbre offsets of the style fit's
size; each range is then widened by ``MARGIN`` of its width on both sides, for styles beyond these. The file is kept
in the repo, so the install-time model (``python -m stack up triton``) is the same bytes on every machine; rerun this
only when the quantized convolutions or the model change, then update ``stack/kokoro_assets.QUANT_MODEL_SHA256``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from bench.voice_speakers import HELD_OUT_TEXT
from stack import kokoro_graph
from voicekit import kokoro_enrol, style_fit
from voicekit.kokoro import MODEL_FILE, KokoroEngine, style_row, tokenize

# One sentence per language other than English (the voices' own languages), not the parity benchmark's.
OTHER_TEXT = {
    "es": "Mañana por la tarde iremos al mercado a comprar pan, queso y fruta.",
    "fr": "Demain après-midi, nous irons au marché acheter du pain et du fromage.",
    "hi": "कल दोपहर हम बाज़ार जाकर रोटी और फल खरीदेंगे।",
    "it": "Domani pomeriggio andremo al mercato a comprare pane e formaggio.",
    "ja": "明日の午後、私たちは市場へパンと果物を買いに行きます。",
    "pt-br": "Amanhã à tarde vamos ao mercado comprar pão, queijo e frutas.",
    "zh": "明天下午我们去市场买面包和水果。",
}


MARGIN = 0.1


def feeds(engine: KokoroEngine) -> list[dict[str, np.ndarray]]:
    """The calibration set (see the module docstring): one network call per sentence piece."""
    out: list[dict[str, np.ndarray]] = []

    def add(text: str, language: str, pack: np.ndarray, speed: float = 1.0, pitch: float = 1.0) -> None:
        for piece in engine.phoneme_pieces(text, language):
            tokens = tokenize(piece, engine.vocab)
            out.append({"tokens": np.array([[0, *tokens, 0]], np.int64), "style": style_row(pack, len(tokens)),
                        "speed": np.array([speed], np.float32), "pitch": np.array([pitch], np.float32)})

    english = sorted(v for v, about in engine.voices.items() if about.language.startswith("en"))
    for i, voice in enumerate(english):
        add(HELD_OUT_TEXT[i % len(HELD_OUT_TEXT)], engine.voices[voice].language, engine.voice_pack(voice))
    for voice in sorted(v for v in engine.voices if v not in english):
        language = engine.voices[voice].language
        add(OTHER_TEXT[language], language, engine.voice_pack(voice))
    text = HELD_OUT_TEXT[0]
    for voice, speed, pitch in (("af_heart", 0.7, 1.0), ("am_michael", 1.4, 1.0), ("af_bella", 1.0, 1.25),
                                ("am_onyx", 1.0, 0.8), ("bf_emma", 1.0, 1.25), ("bm_lewis", 1.0, 0.8)):
        add(text, "en-us", engine.voice_pack(voice), speed, pitch)
    rng = np.random.default_rng(0)
    for sex in ("female", "male"):
        same = [v for v in english if engine.voices[v].gender == sex]
        for k in range(4):
            a, b = rng.choice(same, size=2, replace=False)
            beyond = 0.3 + 0.1 * k
            pack = (1 + beyond) * engine.voice_pack(str(a)) - beyond * engine.voice_pack(str(b))
            add(HELD_OUT_TEXT[(k + 3) % len(HELD_OUT_TEXT)], "en-us", pack.astype(np.float32))
    # the style fit's offsets leave the stock voices' span: random ones of its size (0.6-0.8 spreads rms, 0.75 kept)
    spread = style_fit.timbre_spread(style_fit.stock_timbres(engine))
    for k, voice in enumerate(english[::3]):
        offset = rng.normal(0.0, 0.6 + 0.1 * (k % 3), size=spread.shape).astype(np.float32) * spread
        add(HELD_OUT_TEXT[k % len(HELD_OUT_TEXT)], engine.voices[voice].language,
            kokoro_enrol.with_offset(engine.voice_pack(voice), offset))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(kokoro_graph.RANGES_FILE))
    args = parser.parse_args(argv)
    engine = KokoroEngine(model_file=MODEL_FILE)
    calibration = feeds(engine)
    print(f"{len(calibration)} calibration calls through {engine.directory / MODEL_FILE}", file=sys.stderr)
    started = time.monotonic()
    ranges = kokoro_graph.calibrate(engine.directory / MODEL_FILE, calibration, margin=MARGIN)
    print(f"{len(ranges)} convolutions calibrated in {time.monotonic() - started:.0f} s", file=sys.stderr)
    with open(args.out, "w") as handle:
        json.dump({"model": MODEL_FILE, "calls": len(calibration), "ranges": ranges}, handle, indent=1,
                  sort_keys=True)
        handle.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
