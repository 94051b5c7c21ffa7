"""One Kokoro configuration of ``python -m bench.inference_rtf --only kokoro-cpu``, in a process of its own.

Run by the benchmark with any Python that has the models' packages (the project venv, or the Triton venv
``.stack/venvs/triton`` — its ONNX Runtime is the one the ``synthesize`` model uses), so configurations that differ
by library version or by environment settings (``VOICEKIT_KOKORO_SPIN``) can be compared in one run. Needs nothing
but ``voicekit`` (no project imports). Reads one JSON request per line on stdin — ``{"text", "voice", "speed",
"profile"}`` — and answers each with one JSON line: the process's CPU seconds (all threads, plus the espeak-ng
children) and wall seconds for one ``Synthesizer.speak`` (what the Triton model runs per request), the seconds of
audio and a digest of the samples (same digest = same samples).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "triton_models" / "voicekit"))

import numpy as np  # noqa: E402

from voicekit.kokoro import KokoroEngine  # noqa: E402
from voicekit.tts import Synthesizer  # noqa: E402


def cpu_s() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    import onnxruntime

    synthesizer = Synthesizer(kokoro=KokoroEngine(threads=args.threads, workers=args.workers))
    synthesizer.kokoro.g2p.warm_up()
    synthesizer.speak("Warming up the session.", "af_heart")
    print(json.dumps({"ready": True, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__,
                      "model": synthesizer.kokoro.model_file}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        c0, w0 = cpu_s(), time.perf_counter()
        audio, rate = synthesizer.speak(request["text"], request["voice"], request.get("speed", 1.0),
                                        profile=request.get("profile"))
        wall, cpu = time.perf_counter() - w0, cpu_s() - c0
        digest = hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).tobytes()).hexdigest()[:16]
        print(json.dumps({"cpu": cpu, "wall": wall, "audio_s": len(audio) / rate, "digest": digest}), flush=True)
    synthesizer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
