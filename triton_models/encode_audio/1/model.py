"""Triton Python backend model `encode_audio`: tensors in and out only; the work is in voicekit.codecs.

Serves the same tensors with or without dynamic batching: with `max_batch_size` > 0 every input and output has a
leading batch dimension of 1 per request (the Python backend hands over several requests per call but never
concatenates them); each request is encoded on its own either way.
"""
import json
import sys
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[2] / "voicekit")  # the shared `voicekit` package lives there
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from voicekit import codecs  # noqa: E402
from voicekit.triton_io import answer, input_array, input_scalar, input_str, string_tensor  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        self.batching = int(json.loads(args["model_config"]).get("max_batch_size", 0)) > 0

    def execute(self, requests):
        return answer(requests, self._encode, pb_utils.Logger)

    def _encode(self, request):
        encoded = codecs.encode(input_array(request, "AUDIO").reshape(-1), int(input_scalar(request, "SAMPLE_RATE")),
                                input_str(request, "FORMAT"))
        outputs = [
            string_tensor("DATA", encoded.data),
            string_tensor("MIME_TYPE", encoded.mime_type),
            pb_utils.Tensor("DURATION", np.array([encoded.duration_s], dtype=np.float32)),
        ]
        if self.batching:  # [1] -> [1, 1]: the batch dimension
            outputs = [pb_utils.Tensor(t.name(), t.as_numpy().reshape(1, -1)) for t in outputs]
        return outputs
