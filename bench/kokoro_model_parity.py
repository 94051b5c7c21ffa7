"""Do two Kokoro model files (``stack/kokoro_graph.py``: the PyPI int8 model, the float-convolution model made from
it, the partly int8 model made from that) say the same thing?

    .venv/bin/python -m bench.kokoro_model_parity [--models A.onnx,B.onnx] [--voices af_heart,...] [--no-dnsmos]

Each English benchmark text (``bench.inference_rtf.SENTENCES``) in each voice, and one sentence per language in
its stock voice (``KOKORO_SENTENCES``), rendered by both models, A and B (``KokoroEngine.speak``, 1 thread each).
Per clip: GE2E cosine between the two renderings (the same voice saying *different* texts is the yardstick), the length
difference, and for each model pocketsphinx's word errors (English) and DNSMOS OVRL. Printed: per clip, then
medians and pooled WER. Also CPU seconds per second of audio of each model, measured on these same calls.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from bench import dnsmos
from bench.inference_rtf import KOKORO_SENTENCES, SENTENCES
from voicekit import speaker_encoder
from voicekit.intelligibility import Recogniser, words
from voicekit.kokoro import INT8_MODEL_FILE, MODEL_FILE, SAMPLE_RATE, KokoroEngine, assets_dir, stock_voice

RATE = 16000


def to_16k(audio: np.ndarray) -> np.ndarray:
    import soxr

    return soxr.resample(np.asarray(audio, dtype=np.float32), SAMPLE_RATE, RATE).astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", default="af_heart,am_michael,bf_emma")
    parser.add_argument("--no-dnsmos", action="store_true")
    parser.add_argument("--models", default=f"{INT8_MODEL_FILE},{MODEL_FILE}",
                        help="two model files in the Kokoro assets folder, in this order (default %(default)s)")
    args = parser.parse_args(argv)
    directory = assets_dir()
    first, second = args.models.split(",")
    print(f"A = {first}, B = {second}")
    models = {"A": KokoroEngine(directory, threads=1, workers=1, model_file=first),
              "B": KokoroEngine(directory, threads=1, workers=1, model_file=second)}
    cases = [(voice, text) for text in SENTENCES for voice in args.voices.split(",")]
    cases += [(voice, text) for voice, text in KOKORO_SENTENCES if voice[0] not in "ab"]
    recogniser = Recogniser()
    with_dnsmos = not args.no_dnsmos and dnsmos.available() is None
    cross, same, lengths = [], [], []
    errors = {"A": 0, "B": 0}
    n_words = 0
    mos: dict[str, list[float]] = {"A": [], "B": []}
    cost = {"A": [0.0, 0.0], "B": [0.0, 0.0]}
    previous: dict[str, np.ndarray] = {}
    print(f"{'voice':<11} {'text':<28} {'GE2E A~B':>15} {'len diff ms':>11} {'err A':>8} "
          f"{'err B':>9} {'OVRL A':>9} {'OVRL B':>10}")
    for voice, text in cases:
        language = stock_voice(voice).language  # the voice's own: en-us / en-gb for the English texts
        audio, embedding = {}, {}
        for label, engine in models.items():
            started = time.process_time()
            audio[label] = engine.speak(text, language, engine.voice_pack(voice))
            cost[label][0] += time.process_time() - started
            cost[label][1] += len(audio[label]) / SAMPLE_RATE
            embedding[label] = speaker_encoder.embed(to_16k(audio[label]), RATE, fixed_level=True)
        similarity = float(np.dot(embedding["A"], embedding["B"]))
        cross.append(similarity)
        if voice in previous:  # the same voice, another text: what "different audio, same speaker" scores
            same.append(float(np.dot(previous[voice], embedding["A"])))
        previous[voice] = embedding["A"]
        lengths.append(abs(len(audio["A"]) - len(audio["B"])) / SAMPLE_RATE * 1000)
        row = {"A": "", "B": ""}
        if voice[0] in "ab":
            reference = words(text)
            n_words += len(reference)
            for label in models:
                wrong = recogniser.word_errors(text, to_16k(audio[label]))
                errors[label] += wrong
                row[label] = str(wrong)
        scores = {}
        for label in models:
            if with_dnsmos:
                scores[label] = dnsmos.score(to_16k(audio[label]), RATE)["ovrl"]
                mos[label].append(scores[label])
        print(f"{voice:<11} {text[:28]:<28} {similarity:>15.3f} {lengths[-1]:>11.0f} {row['A']:>8} "
              f"{row['B']:>9} {scores.get('A', float('nan')):>9.2f} {scores.get('B', float('nan')):>10.2f}",
              flush=True)
    print(f"\n{len(cases)} clips. GE2E cosine A vs B: median {statistics.median(cross):.3f}, min "
          f"{min(cross):.3f} (same voice, different texts: median {statistics.median(same):.3f}); length difference "
          f"median {statistics.median(lengths):.0f} ms, max {max(lengths):.0f} ms")
    print(f"WER (English, {n_words} words): A {errors['A'] / n_words:.1%}, B {errors['B'] / n_words:.1%}")
    if with_dnsmos:
        print(f"DNSMOS OVRL median: A {statistics.median(mos['A']):.2f}, "
              f"B {statistics.median(mos['B']):.2f}")
    print("CPU s per s of audio (1 thread, these calls): " + ", ".join(
        f"{label} {spent / audio_s:.3f}" for label, (spent, audio_s) in cost.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
