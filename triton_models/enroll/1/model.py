"""Triton Python backend model `enroll`: tensors in and out only; the work is in voicekit.enrolment."""
import sys
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[2] / "voicekit")  # the shared `voicekit` package lives there
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from voicekit import enrolment  # noqa: E402
from voicekit.errors import VoicekitError  # noqa: E402
from voicekit.triton_io import answer, input_array, string_tensor  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        # Load the speaker encoder and render + analyse the system voices' proxy speech now (a few seconds), so
        # the first enrolment does not pay for it and a missing flite or encoder fails the load.
        from voicekit import speaker_encoder, voiceclone

        speaker_encoder.default_encoder()
        bank = voiceclone.default_bank()
        for voice in voiceclone.BASE_VOICES:
            bank.get(voice)

    def execute(self, requests):
        return answer(requests, self._enroll, pb_utils.Logger)

    def _enroll(self, request):
        values = input_array(request, "AUDIO").reshape(-1)
        if values.size != 1 or not isinstance(values[0], (bytes, bytearray)):
            raise VoicekitError("invalid_request", "input AUDIO must hold exactly one file's bytes")
        result = enrolment.enroll(bytes(values[0]))
        return [
            string_tensor("PROFILE", result.profile_json),
            string_tensor("ENGINE_VOICE", result.engine_voice),
            pb_utils.Tensor("DURATION", np.array([result.duration_s], dtype=np.float32)),
        ]
