"""Triton Python backend model `enroll`: tensors in and out only; the work is in voicekit.enrolment (checks and
measurements) and voicekit.kokoro_enrol (finding the Kokoro voice: a style recipe over the stock voices).

Method: `$VOICEKIT_ENROL_METHOD` = `kokoro` (default: profile version 3, a style recipe that `synthesize` turns back
into a Kokoro style pack; needs the Kokoro assets and the bank) or `world-vc` (the older flite voice-conversion
profile, version 2). When Kokoro is not installed the model falls back to `world-vc` and says so in the log.
"""
import os
import sys
import time
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[2] / "voicekit")  # the shared `voicekit` package lives there
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from voicekit import decode, enrolment  # noqa: E402
from voicekit.errors import VoicekitError  # noqa: E402
from voicekit.triton_io import answer, input_array, string_tensor  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        # Load the speaker encoder, Kokoro and the enrolment bank now, so the first enrolment does not pay for them
        # and a missing encoder fails the load.
        from voicekit import speaker_encoder

        speaker_encoder.default_encoder()
        self.kokoro = None
        method = os.environ.get("VOICEKIT_ENROL_METHOD", "kokoro").strip().lower()
        if method == "kokoro":
            try:
                from voicekit import kokoro_enrol
                from voicekit.kokoro import KokoroEngine

                self.kokoro = kokoro_enrol.Enroller(KokoroEngine(), log=pb_utils.Logger.log_info)
            except (VoicekitError, OSError, ValueError) as exc:
                pb_utils.Logger.log_warn(f"enroll: Kokoro enrolment unavailable ({exc}); using world-vc")
        if self.kokoro is None:
            from voicekit import voiceclone

            bank = voiceclone.default_bank()
            for voice in voiceclone.BASE_VOICES:
                bank.get(voice)

    def execute(self, requests):
        return answer(requests, self._enroll, pb_utils.Logger)

    def _enroll(self, request):
        started = time.monotonic()  # the Kokoro enrolment's budget covers decoding and screening too
        values = input_array(request, "AUDIO").reshape(-1)
        if values.size != 1 or not isinstance(values[0], (bytes, bytearray)):
            raise VoicekitError("invalid_request", "input AUDIO must hold exactly one file's bytes")
        data = bytes(values[0])
        if self.kokoro is None:
            result = enrolment.enroll(data)
            profile_json, engine_voice, duration = result.profile_json, result.engine_voice, result.duration_s
        else:
            if not data:
                raise VoicekitError("invalid_audio", "the reference audio is empty")
            samples, container = decode.decode(data, rate=enrolment.RATE, max_seconds=enrolment.MAX_DURATION_S)
            screened = enrolment.screen(samples, enrolment.RATE)
            profile, _ = self.kokoro.enroll(screened, container, started=started)
            profile_json = enrolment.Enrolment(profile, screened.duration_s, profile["engineVoice"]).profile_json
            engine_voice, duration = profile["engineVoice"], screened.duration_s
        return [
            string_tensor("PROFILE", profile_json),
            string_tensor("ENGINE_VOICE", engine_voice),
            pb_utils.Tensor("DURATION", np.array([duration], dtype=np.float32)),
        ]
