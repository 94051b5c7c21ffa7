"""Triton Python backend model `synthesize`: tensors in and out only; the work is in voicekit.tts."""
import sys
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[2] / "voicekit")  # the shared `voicekit` package lives there
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from voicekit import profile as voice_profile  # noqa: E402
from voicekit.kokoro import KokoroEngine  # noqa: E402
from voicekit.triton_io import answer, input_array, input_scalar, input_str  # noqa: E402
from voicekit.tts import Synthesizer  # noqa: E402


def _providers(args) -> list:
    """ONNX Runtime providers for this instance: CUDA on the GPU Triton gave it (configs/gpu.pbtxt, KIND_GPU, with
    onnxruntime-gpu installed), else the CPU."""
    if args.get("model_instance_kind") == "GPU":
        device = int(args.get("model_instance_device_id") or 0)
        return [("CUDAExecutionProvider", {"device_id": device}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class TritonPythonModel:
    def initialize(self, args):
        # Fails the load if flite, the Kokoro model/voices or a G2P front end is missing (stack up says so).
        self.synthesizer = Synthesizer(kokoro=KokoroEngine(providers=_providers(args)))
        self.synthesizer.kokoro.g2p.warm_up()  # jieba's dictionary and OpenJTalk load now, not on a request
        kokoro = self.synthesizer.kokoro
        pb_utils.Logger.log_info(f"synthesize {args.get('model_instance_name')}: Kokoro {kokoro.model_file} "
                                 f"on {kokoro.providers}")

    def execute(self, requests):
        return answer(requests, self._synthesize, pb_utils.Logger)

    def _synthesize(self, request):
        # PROFILE and DURATION are optional: a cloned voice (converted from its system voice) and a total length.
        has_profile = pb_utils.get_input_tensor_by_name(request, "PROFILE") is not None
        profile = voice_profile.parse(input_str(request, "PROFILE")) if has_profile else None
        has_duration = pb_utils.get_input_tensor_by_name(request, "DURATION") is not None
        duration = float(input_scalar(request, "DURATION")) if has_duration else None
        # LANGUAGE and STYLE are optional too: the text's language (default: the voice's) and a Kokoro style pack.
        has_language = pb_utils.get_input_tensor_by_name(request, "LANGUAGE") is not None
        language = input_str(request, "LANGUAGE") if has_language else None
        has_style = pb_utils.get_input_tensor_by_name(request, "STYLE") is not None
        style = input_array(request, "STYLE") if has_style else None
        audio, rate = self.synthesizer.speak(input_str(request, "TEXT"), input_str(request, "VOICE"),
                                             float(input_scalar(request, "SPEED")), profile=profile,
                                             duration_s=duration, language=language, style=style)
        return [pb_utils.Tensor("AUDIO", np.ascontiguousarray(audio, dtype=np.float32)),
                pb_utils.Tensor("SAMPLE_RATE", np.array([rate], dtype=np.int32))]

    def finalize(self):
        self.synthesizer.close()
