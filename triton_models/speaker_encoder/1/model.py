"""Triton Python backend model `speaker_encoder`: tensors in and out only; the work is in voicekit.speaker_encoder.

Weights: `pretrained.pt` next to this file if an operator put one there (same format: a legacy torch checkpoint
with Resemblyzer's `model_state`), else $VOICEKIT_GE2E_WEIGHTS, else the installed `resemblyzer` package's file.
"""
import sys
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[2] / "voicekit")  # the shared `voicekit` package lives there
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import triton_python_backend_utils as pb_utils  # noqa: E402
from voicekit.speaker_encoder import WEIGHTS_FILE, SpeakerEncoder  # noqa: E402
from voicekit.triton_io import answer, input_array, input_scalar  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        local = Path(__file__).resolve().parent / WEIGHTS_FILE
        # Fails the load (loudly, naming the install command) if the weights are missing.
        self.encoder = SpeakerEncoder(weights_path=local if local.is_file() else None)

    def execute(self, requests):
        return answer(requests, self._embed, pb_utils.Logger)

    def _embed(self, request):
        embedding = self.encoder.embed(input_array(request, "AUDIO").reshape(-1),
                                       int(input_scalar(request, "SAMPLE_RATE")))
        return [pb_utils.Tensor("EMBEDDING", embedding)]
