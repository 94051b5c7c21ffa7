"""Triton Python backend model `encode_audio`: tensors in and out only; the work is in voicekit.codecs."""
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
    def execute(self, requests):
        return answer(requests, self._encode, pb_utils.Logger)

    def _encode(self, request):
        encoded = codecs.encode(input_array(request, "AUDIO").reshape(-1), int(input_scalar(request, "SAMPLE_RATE")),
                                input_str(request, "FORMAT"))
        return [
            string_tensor("DATA", encoded.data),
            string_tensor("MIME_TYPE", encoded.mime_type),
            pb_utils.Tensor("DURATION", np.array([encoded.duration_s], dtype=np.float32)),
        ]
