"""Triton Python backend model `speaker_encoder`: tensors in and out only; the work is in voicekit.speaker_encoder.

Weights: `pretrained.pt` next to this file if an operator put one there (same format: a legacy torch checkpoint
with Resemblyzer's `model_state`), else $VOICEKIT_GE2E_WEIGHTS, else the installed `resemblyzer` package's file.

Batch-aware: with dynamic batching (config `max_batch_size` > 0) Triton hands `execute` several requests at once
(each keeps its own tensors, shape [1, n]: the Python backend never concatenates them). Each request is
preprocessed on its own (resample, level, VAD trim, mel, 1.6 s partials), then the partials of *all* of them go
through the LSTM together - one pass of up to PARTIAL_BATCH partials instead of one pass per request - and are
split again per request. Without batching (`max_batch_size: 0`) the same code serves one request per call.
"""
import json
import sys
from pathlib import Path

_VOICEKIT_HOME = str(Path(__file__).resolve().parents[2] / "voicekit")  # the shared `voicekit` package lives there
if _VOICEKIT_HOME not in sys.path:
    sys.path.insert(0, _VOICEKIT_HOME)

import numpy as np  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402

from voicekit import speaker_encoder as ge2e  # noqa: E402
from voicekit.errors import VoicekitError  # noqa: E402
from voicekit.triton_io import answer, input_array, input_scalar  # noqa: E402


def partial_mels(samples: np.ndarray, rate: int) -> np.ndarray:
    """[n_partials, 160, 40] mel windows of one request, exactly as ``SpeakerEncoder.embed`` makes them."""
    samples = ge2e.validate(samples, rate)
    wav = ge2e.preprocess(samples, int(rate))
    if len(wav) == 0:
        raise VoicekitError("invalid_audio", "no speech found in the audio")
    slices = ge2e.partial_slices(len(wav))
    end = slices[-1][1] * ge2e.MEL_HOP
    if end >= len(wav):
        wav = np.pad(wav, (0, end - len(wav)))
    mel = ge2e.mel_spectrogram(wav)
    return np.stack([mel[start:stop] for start, stop in slices])


def embed_many(mels: list, weights) -> list:
    """Utterance embeddings [256] for each request's partials, running all partials through the network together
    (``PARTIAL_BATCH`` at a time), then mean per request and L2 norm (``embed_preprocessed``)."""
    everything = np.concatenate(mels)
    partials = np.concatenate([ge2e.network(everything[i:i + ge2e.PARTIAL_BATCH], weights)
                               for i in range(0, len(everything), ge2e.PARTIAL_BATCH)])
    out, start = [], 0
    for mel in mels:
        raw = partials[start:start + len(mel)].mean(axis=0)
        start += len(mel)
        out.append((raw / np.linalg.norm(raw)).astype(np.float32))
    return out


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        self.batching = int(config.get("max_batch_size", 0)) > 0  # outputs then carry a batch dimension of 1
        local = Path(__file__).resolve().parent / ge2e.WEIGHTS_FILE
        # Fails the load (loudly, naming the install command) if the weights are missing.
        self.encoder = ge2e.SpeakerEncoder(weights_path=local if local.is_file() else None)

    def execute(self, requests):
        prepared = {}  # request index -> partial mels, or the error to answer it with
        for index, request in enumerate(requests):
            try:
                audio = input_array(request, "AUDIO")
                if self.batching and (audio.ndim != 2 or audio.shape[0] != 1):
                    raise VoicekitError("invalid_request", f"AUDIO must have shape [1, n], got {list(audio.shape)}")
                prepared[index] = partial_mels(audio.reshape(-1), int(input_scalar(request, "SAMPLE_RATE")))
            except Exception as exc:  # answered (and mapped) per request below; the others still run
                prepared[index] = exc
        good = [index for index, value in prepared.items() if not isinstance(value, Exception)]
        if good:
            try:
                embeddings = embed_many([prepared[i] for i in good], self.encoder.weights)
                for index, embedding in zip(good, embeddings, strict=True):
                    prepared[index] = embedding
            except Exception as exc:  # pragma: no cover - a bug: every request of the batch gets it
                for index in good:
                    prepared[index] = exc
        order = {id(request): index for index, request in enumerate(requests)}

        def respond(request):
            value = prepared[order[id(request)]]
            if isinstance(value, Exception):
                raise value
            return [pb_utils.Tensor("EMBEDDING", value.reshape(1, -1) if self.batching else value)]

        return answer(requests, respond, pb_utils.Logger)
