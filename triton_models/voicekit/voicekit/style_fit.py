"""Style fit: the clone's timbre style moved by gradient through Kokoro's decoder toward the reference.

The stock-voice search (``kokoro_enrol``) ends on the manifold the 28 English voices span (three searches over it
moved held-out similarity by +0.005). Kokoro's decoder takes the first 128 style dims only through its AdaIN layers
— affine maps of the style — so a style off that manifold can still be a voice. This module looks for one by
analysis-by-synthesis (docs/voice-quality.md, "Style inversion through Kokoro's decoder"):

1. a few seconds of the reference are transcribed (pocketsphinx) and Kokoro says that text in the searched voice;
2. dynamic time warping pairs Kokoro's frames with the reference's (band-limited cepstra, means removed); pairs
   that match worst (mostly different sounds: the transcript is a recogniser's guess) are left out;
3. Kokoro's decoder — its ONNX graph run as a JAX function of the style (:class:`DecoderGraph`) — is differentiated,
   and Adam moves the timbre half of the style (in units of the stock voices' spread, pulled weakly back to the
   searched style) to bring the output's cepstra (c1-c29 of a log-mel spectrum: the envelope without loudness) onto
   the reference's aligned frames, while the frame-to-frame change of the envelope (articulation) stays that of
   the searched voice (``keep``).

4. with ``speaker_weight`` (CPU settings: 4), a speaker term joins the objective: 1 − the GE2E cosine of the window's
   audio to the reference's embedding, GE2E run in JAX (:mod:`ge2e_jax`); with ``speaker_band`` on the window's
   audio cut to the reference's band (what the clone is compared with: a telephone recording has nothing above
   4 kHz). The envelope match alone hears no identity;
   GE2E is the encoder enrolment already optimises.
5. with ``campplus_weight`` (CPU settings: 2), a second speaker term: 1 − the CAM++ cosine of the window's audio to
   the reference's CAM++ embedding (:mod:`campplus_jax`; ``speaker_band`` as for GE2E's). Two encoders of unlike
   architectures pull the style where both hear the speaker, not where one is fooled: on 12 real speakers it raised
   ECAPA — which no part of enrolment sees — by +0.03 (docs/voice-quality.md, "Two encoders in the fit"). ECAPA
   stays the independent check.

Everything not depending on the
style (text features, F0 and energy paths, the harmonic source) is computed by ONNX Runtime on the graph's static
part; only the ≈ 1,470 style-dependent nodes run in JAX, at one fixed number of frames so that one compilation
(at model load, in the background: :class:`Fitter`) serves every speaker. Enrolment (``kokoro_enrol.Enroller``)
stores a fraction of the fitted offset in the profile (``styleOffset``; half on CPU, 0.35 on a GPU: the full one
cost 8-20 points of word error rate);
synthesis adds it to every row of the clone's style pack.

Needs ``jax`` and ``onnx`` (the models' environment has both); without them enrolment runs without the fit.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .kokoro_enrol import STYLE_HALF  # the timbre half of a style row

SAMPLE_RATE = 24000
FRAME = 600           # output samples per decoder input frame (Kokoro: 24 kHz, 40 frames a second)
WHOLE_BAND_HZ = SAMPLE_RATE / 2   # the speaker term's band when the reference's is not used: nothing cut
CAMPPLUS_SIZE = 192   # CAM++'s embedding (campplus.EMBEDDING_SIZE; not imported: the fit loads it only when used)
CAMPPLUS_TARGET_S = 60.0   # the CAM++ term's target hears this much of the reference at most (0.8 s of CPU for 30 s)
HOP = 300             # cepstral analysis hop: the decoder's F0 rate
NFFT = 1024
MELS = 80
CEPSTRA = 30          # c0 (loudness) dropped, c1-c29 kept: the envelope without the harmonics
TEXT_FEATURES = "/encoder/MatMul_1_output_0"     # the aligned text features [1, 512, T]
F0_CURVE = "/encoder/Reshape_output_0"           # predicted F0 [1, 2T]
ENERGY_CURVE = "/encoder/Reshape_1_output_0"     # predicted energy [1, 2T]
DECODER_PREFIX = "/decoder/"


# --------------------------------------------------------------------------------------------------- features


def mel_matrix(fmax: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Triangular mel filters [MELS, NFFT/2 + 1] from 60 Hz to ``fmax``."""
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(60.0), hz_to_mel(fmax), MELS + 2))
    bins = np.fft.rfftfreq(NFFT, 1.0 / sample_rate)
    filters = np.zeros((MELS, len(bins)), np.float32)
    for i in range(MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        filters[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0.0, None)
    return filters


def dct_matrix() -> np.ndarray:
    n = np.arange(MELS)
    k = np.arange(CEPSTRA)[:, None]
    return (np.cos(np.pi / MELS * (n + 0.5) * k) * np.sqrt(2.0 / MELS)).astype(np.float32)


def cepstra(audio, filters: np.ndarray, dct: np.ndarray, xp=np):
    """(cepstra [frames, CEPSTRA], log-mel [frames, MELS]) of 24 kHz audio, one frame per ``HOP`` samples
    (``xp`` is numpy or jax.numpy: the same arithmetic on both sides of the fit)."""
    pad = NFFT // 2
    padded = xp.pad(audio, (pad, pad))
    count = 1 + (padded.shape[0] - NFFT) // HOP
    index = np.arange(NFFT)[None, :] + HOP * np.arange(count)[:, None]
    power = xp.abs(xp.fft.rfft(padded[index] * np.hanning(NFFT).astype(np.float32), axis=1)) ** 2
    log_mel = xp.log(power @ filters.T + 1e-6)
    return log_mel @ dct.T, log_mel


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The monotonic path [(i, j)] pairing rows of ``a`` and ``b`` at the least summed euclidean distance."""
    cost = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        row, previous, c = acc[i], acc[i - 1], cost[i - 1]
        from_above = np.minimum(previous[:-1], previous[1:]) + c   # diagonal or vertical step into (i, j)
        for j in range(1, m + 1):                                  # horizontal steps depend on the row itself
            row[j] = min(from_above[j - 1], row[j - 1] + c[j - 1])
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        step = int(np.argmin((acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])))
        i, j = (i - 1, j - 1) if step == 0 else (i - 1, j) if step == 1 else (i, j - 1)
    return np.array(path[::-1], dtype=np.int64).reshape(-1, 2)


def aligned_targets(path: np.ndarray, reference: np.ndarray, frames: int, loud: np.ndarray,
                    quiet: float, usable: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``frames`` synthesised frames, the mean of the reference frames the path pairs it with, and a
    weight (0 where none is paired or every paired reference frame is quieter than ``quiet``); ``usable``: which
    pairs of the path may be used (default all)."""
    sums = np.zeros((frames, reference.shape[1]), np.float64)
    counts = np.zeros(frames)
    usable = np.ones(len(path), bool) if usable is None else usable
    for (i, j), ok in zip(path, usable, strict=True):
        if ok and i < frames and loud[j] > quiet:
            sums[i] += reference[j]
            counts[i] += 1
    weights = (counts > 0).astype(np.float32)
    return (sums / np.maximum(counts, 1)[:, None]).astype(np.float32), weights


def speech_spans(samples: np.ndarray, rate: int, min_gap_s: float = 0.2, floor_db: float = -35.0,
                 margin_s: float = 0.05) -> list[tuple[int, int]]:
    """(start, end) of the stretches of speech in ``samples``, split at pauses of ``min_gap_s``."""
    from .pitch import frame_rms

    hop = rate // 100
    if len(samples) < 2 * hop:
        return []
    rms = frame_rms(samples, hop, hop).astype(np.float64) + 1e-12
    speech = 20.0 * np.log10(rms / rms.max()) > floor_db
    spans, start, silent = [], None, 0
    for k, is_speech in enumerate(speech):
        if is_speech:
            start = k if start is None else start
            silent = 0
        elif start is not None:
            silent += 1
            if silent >= min_gap_s * 100:
                spans.append((start, k - silent + 1))
                start = None
    if start is not None:
        spans.append((start, len(speech)))
    margin = int(margin_s * 100)
    return [(max(0, a - margin) * hop, min(len(speech), b + margin) * hop) for a, b in spans if b - a >= 40]


# --------------------------------------------------------------------------------------------------- the decoder


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class DecoderGraph:
    """Kokoro's ONNX graph split at the style: ONNX Runtime computes what does not depend on it (two subgraphs: the
    text encoder and prosody predictor; the decoder's static part), JAX the rest. Only the weights of the
    style-dependent nodes are kept for JAX, and the model itself is dropped once split (≈ 1 GB less than keeping
    it and a second whole-model session)."""

    def __init__(self, model_path: str | Path, threads: int = 2, sources: tuple[str, ...] = ()) -> None:
        """``sources``: decoder tensors whose consumers also run in JAX (benchmarks: what the static part hands
        over is then smaller, e.g. the harmonic source instead of its convolved spectra)."""
        import onnx
        import onnxruntime as ort
        from onnx import numpy_helper, utils

        model = onnx.load(str(model_path))
        graph = model.graph
        decoder = [n for n in graph.node if n.name.startswith(DECODER_PREFIX)]
        depends = {"style", *sources}
        self.nodes = []  # the style-dependent nodes, in the graph's (topological) order
        for node in decoder:
            if any(name in depends for name in node.input):
                depends.update(node.output)
                self.nodes.append(node)
        read = {name for node in self.nodes for name in node.input}
        self.constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name in read}
        for node in graph.node:
            if node.op_type == "Constant" and node.output[0] in read:
                self.constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.attributes = [_attributes(n) for n in self.nodes]
        self.output = self.nodes[-1].output[0]  # the audio (the graph squeezes it outside the decoder)
        self.inputs = []  # what the style-dependent part reads from the static part
        for node in self.nodes:
            for name in node.input:
                if name and name != "style" and (name in sources or name not in depends) \
                        and name not in self.constants and name not in self.inputs:
                    self.inputs.append(name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        extractor = utils.Extractor(model)
        # text → features, F0 and energy; and the static part from those three (the style is an input too: the
        # graph's shape arithmetic for the inverse STFT reads its shape, not its values)
        encoder = extractor.extract_model(["tokens", "style", "speed"], [TEXT_FEATURES, F0_CURVE, ENERGY_CURVE])
        static = extractor.extract_model(["style", TEXT_FEATURES, F0_CURVE, ENERGY_CURVE], self.inputs)
        del model, graph, extractor
        self.encoder = ort.InferenceSession(encoder.SerializeToString(), options, providers=["CPUExecutionProvider"])
        self.static_inputs = [i.name for i in static.graph.input]
        self.static = ort.InferenceSession(static.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def save(self, path: str | Path) -> None:
        """The style-dependent part alone (≈ 41 MB, from 187 MB of weights), for :meth:`load` where JAX runs without
        Kokoro's model or ONNX Runtime (a GPU machine); its input values come from :meth:`static_values`. Exact: the
        weights dequantized from int8 hold at most 256 distinct values each, stored as a codebook and byte indices."""
        from onnx import helper

        graph = helper.make_graph(self.nodes, "kokoro-style-dependent-decoder", inputs=[], outputs=[])
        arrays: dict[str, np.ndarray] = {"graph": np.frombuffer(helper.make_model(graph).SerializeToString(), np.uint8),
                                         "names": np.array(list(self.constants))}
        for i, value in enumerate(self.constants.values()):
            value = np.asarray(value)
            if value.dtype == np.float32 and value.size > 256:
                codebook, index = np.unique(value, return_inverse=True)
                if len(codebook) <= 256:
                    arrays[f"index{i}"], arrays[f"codebook{i}"] = index.astype(np.uint8).reshape(value.shape), codebook
                    continue
            arrays[f"value{i}"] = value
        with open(path, "wb") as file:
            np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> DecoderGraph:
        """A graph from :meth:`save`: :meth:`audio` works, the ONNX Runtime parts (text, static values) do not."""
        import onnx

        graph = cls.__new__(cls)
        with np.load(path) as data:
            model = onnx.load_from_string(data["graph"].tobytes())
            graph.constants = {}
            for i, name in enumerate(data["names"]):
                graph.constants[str(name)] = data[f"codebook{i}"][data[f"index{i}"]] if f"index{i}" in data \
                    else data[f"value{i}"]
        graph.nodes = list(model.graph.node)
        graph.attributes = [_attributes(n) for n in graph.nodes]
        graph.output = graph.nodes[-1].output[0]
        return graph

    def text_features(self, tokens, style: np.ndarray, speed: float = 1.0):
        """(text features, F0, energy) for phoneme tokens in a [1, 256] style."""
        feeds = {"tokens": np.asarray([[0, *tokens, 0]], dtype=np.int64),
                 "style": np.asarray(style, np.float32).reshape(1, -1),
                 "speed": np.asarray([speed], np.float32)}
        features, f0, energy = self.encoder.run([TEXT_FEATURES, F0_CURVE, ENERGY_CURVE], feeds)
        return features, f0, energy

    def static_values(self, features: np.ndarray, f0: np.ndarray, energy: np.ndarray) -> dict[str, np.ndarray]:
        feeds = {"style": np.zeros((1, 256), np.float32), TEXT_FEATURES: features, F0_CURVE: f0, ENERGY_CURVE: energy}
        outs = self.static.run(self.inputs, {name: feeds[name] for name in self.static_inputs})
        return dict(zip(self.inputs, outs, strict=True))

    def audio(self, style, static: dict):
        """The decoder's audio for a [1, 256] style (a JAX array: differentiable) given :meth:`static_values`."""
        env = dict(static)
        env["style"] = style
        for node, attributes in zip(self.nodes, self.attributes, strict=True):
            _run(node, attributes, env, self.constants)
        return env[self.output]


def _run(node, a: dict, env: dict, constants: dict) -> None:
    """One ONNX node in JAX (or numpy, when every input is concrete: shape arithmetic stays static under jit)."""
    import jax
    import jax.numpy as jnp

    x = [None if not name else env[name] if name in env else constants[name] for name in node.input]
    concrete = all(v is None or isinstance(v, (np.ndarray, np.generic)) for v in x)
    xp = np if concrete else jnp
    op = node.op_type
    if op == "Add":
        out = x[0] + x[1]
    elif op == "Sub":
        out = x[0] - x[1]
    elif op == "Mul":
        out = x[0] * x[1]
    elif op == "Div":
        out = np.floor_divide(x[0], x[1]) if concrete and np.issubdtype(np.asarray(x[0]).dtype, np.integer) \
            else x[0] / x[1]
    elif op == "Pow":
        out = x[0] ** x[1]
    elif op in ("Sqrt", "Sin", "Cos", "Exp", "Tanh", "Floor"):
        out = getattr(xp, op.lower())(x[0])
    elif op == "Atan":
        out = xp.arctan(x[0])
    elif op == "STFT":   # real signal [batch, length, 1] (or [batch, length]) → [batch, frames, bins, (re, im)]
        step = int(np.asarray(x[1]).reshape(-1)[0])
        window = x[2] if len(x) > 2 and x[2] is not None else None
        length = int(np.asarray(x[3]).reshape(-1)[0]) if len(x) > 3 and x[3] is not None else window.shape[0]
        signal = x[0][..., 0] if x[0].ndim == 3 else x[0]
        count = (signal.shape[1] - length) // step + 1
        frames = signal[:, np.arange(count)[:, None] * step + np.arange(length)[None, :]]
        if window is not None:
            frames = frames * window
        spectrum = (xp.fft.rfft if a.get("onesided", 1) else xp.fft.fft)(frames, axis=-1)
        out = xp.stack([xp.real(spectrum), xp.imag(spectrum)], axis=-1).astype(np.float32)
    elif op == "LeakyRelu":
        out = xp.where(x[0] >= 0, x[0], a.get("alpha", 0.01) * x[0])
    elif op == "Greater":
        out = x[0] > x[1]
    elif op == "Less":
        out = x[0] < x[1]
    elif op == "Equal":
        out = x[0] == x[1]
    elif op == "Where":
        out = xp.where(x[0], x[1], x[2])
    elif op == "Cast":
        out = x[0].astype({1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 11: np.float64}[a["to"]])
    elif op == "Unsqueeze":
        out = x[0]
        axes = [int(v) for v in np.asarray(x[1]).reshape(-1)]
        for axis in sorted(v % (out.ndim + len(axes)) for v in axes):
            out = xp.expand_dims(out, axis)
    elif op == "Squeeze":
        axes = tuple(int(v) % x[0].ndim for v in np.asarray(x[1]).reshape(-1)) if len(x) > 1 and x[1] is not None \
            else tuple(i for i, s in enumerate(x[0].shape) if s == 1)
        out = xp.squeeze(x[0], axis=axes)
    elif op == "ReduceMean":
        axes = a.get("axes")
        if axes is None and len(x) > 1 and x[1] is not None:
            axes = [int(v) for v in np.asarray(x[1]).reshape(-1)]
        out = xp.mean(x[0], axis=None if axes is None else tuple(int(v) % x[0].ndim for v in axes),
                      keepdims=bool(a.get("keepdims", 1)))
    elif op == "Split":
        axis = a.get("axis", 0) % x[0].ndim
        sizes = [int(v) for v in np.asarray(x[1]).reshape(-1)] if len(x) > 1 and x[1] is not None \
            else [x[0].shape[axis] // len(node.output)] * len(node.output)
        for name, part in zip(node.output, xp.split(x[0], np.cumsum(sizes)[:-1], axis=axis), strict=True):
            env[name] = part
        return
    elif op == "Concat":
        out = xp.concatenate(x, axis=a["axis"])
    elif op == "Shape":
        out = np.asarray(x[0].shape, dtype=np.int64)[a.get("start", 0):a.get("end", None)]
    elif op == "Gather":
        out = xp.take(x[0], np.asarray(x[1]), axis=a.get("axis", 0))
    elif op == "Slice":
        starts, ends = np.asarray(x[1]).reshape(-1), np.asarray(x[2]).reshape(-1)
        axes = np.asarray(x[3]).reshape(-1) if len(x) > 3 and x[3] is not None else np.arange(len(starts))
        steps = np.asarray(x[4]).reshape(-1) if len(x) > 4 and x[4] is not None else np.ones(len(starts), int)
        index = [slice(None)] * x[0].ndim
        for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
            size = x[0].shape[int(axis)]
            index[int(axis)] = slice(int(max(min(start, size), -size - 1)), int(max(min(end, size), -size - 1)),
                                     int(step))
        out = x[0][tuple(index)]
    elif op == "Transpose":
        out = xp.transpose(x[0], a["perm"])
    elif op == "Reshape":
        shape = [int(v) for v in np.asarray(x[1]).reshape(-1)]
        out = x[0].reshape([x[0].shape[i] if s == 0 else s for i, s in enumerate(shape)])
    elif op == "Expand":
        out = x[0] * xp.ones(tuple(int(v) for v in np.asarray(x[1]).reshape(-1)), dtype=x[0].dtype)
    elif op == "MatMul":
        out = xp.matmul(x[0], x[1])
    elif op == "DynamicQuantizeLinear":
        # the AdaIN layers' inputs: kept in float (scale 1, zero point 0) so the products below are the float
        # ones and differentiable; the quantisation error of the style is below the fit's resolution
        env[node.output[0]], env[node.output[1]], env[node.output[2]] = x[0], np.float32(1.0), np.uint8(0)
        return
    elif op == "MatMulInteger":
        weights = np.asarray(x[1]).astype(np.float32)
        if len(x) > 3 and x[3] is not None:
            weights = weights - np.asarray(x[3]).astype(np.float32)
        out = xp.matmul(x[0] - np.float32(np.asarray(x[2])), weights)
    elif op == "Conv":
        dims = x[1].ndim - 2
        pads = a.get("pads", [0] * 2 * dims)
        out = jax.lax.conv_general_dilated(x[0], x[1], window_strides=a.get("strides", [1] * dims),
                                           padding=[(pads[i], pads[i + dims]) for i in range(dims)],
                                           rhs_dilation=a.get("dilations", [1] * dims),
                                           feature_group_count=a.get("group", 1))
        if len(x) > 2 and x[2] is not None:
            out = out + x[2].reshape((1, -1) + (1,) * dims)
    elif op == "ConvTranspose":
        out = _conv_transpose(x, a)
    elif op == "Pad":
        pads = [int(v) for v in np.asarray(x[1]).reshape(-1)]
        widths = [(pads[i], pads[i + x[0].ndim]) for i in range(x[0].ndim)]
        mode = a.get("mode", b"constant").decode()
        out = xp.pad(x[0], widths, mode=mode) if mode != "constant" else xp.pad(x[0], widths)
    elif op == "Resize":
        if a.get("mode", b"nearest") != b"nearest":
            raise NotImplementedError("Resize: only nearest-neighbour upsampling by whole factors depends on the style")
        out = x[0]
        for axis, scale in enumerate(np.asarray(x[2]).reshape(-1)):
            if scale != 1:
                out = xp.repeat(out, int(scale), axis=axis)
    elif op == "NonZero":
        out = np.array(np.nonzero(np.asarray(x[0])), dtype=np.int64)
    elif op == "ScatterND":
        index = tuple(np.moveaxis(np.asarray(x[1]), -1, 0))
        if concrete:
            out = np.array(x[0], copy=True)
            out[index] = x[2]
        else:
            out = jnp.asarray(x[0]).at[index].set(x[2])
    else:
        raise NotImplementedError(f"ONNX op {op} in the style-dependent part of the decoder")
    env[node.output[0]] = out


def _conv_transpose(x: list, a: dict):
    """ONNX ConvTranspose as a dilated convolution with the kernel flipped and its in/out channels swapped."""
    import jax

    w = np.asarray(x[1])
    groups, dims = a.get("group", 1), w.ndim - 2
    kernel = w.shape[2:]
    channels_in, out_per_group = w.shape[0], w.shape[1]
    w = w.reshape((groups, channels_in // groups, out_per_group) + kernel)
    w = w.transpose((0, 2, 1) + tuple(range(3, 3 + dims))).reshape((groups * out_per_group, channels_in // groups)
                                                                   + kernel)
    w = np.ascontiguousarray(np.flip(w, axis=tuple(range(2, 2 + dims))))
    strides, dilations = a.get("strides", [1] * dims), a.get("dilations", [1] * dims)
    pads, extra = a.get("pads", [0] * 2 * dims), a.get("output_padding", [0] * dims)
    padding = [(dilations[i] * (kernel[i] - 1) - pads[i], dilations[i] * (kernel[i] - 1) - pads[i + dims] + extra[i])
               for i in range(dims)]
    out = jax.lax.conv_general_dilated(x[0], w, window_strides=[1] * dims, padding=padding, lhs_dilation=strides,
                                       rhs_dilation=dilations, feature_group_count=groups)
    if len(x) > 2 and x[2] is not None:
        out = out + x[2].reshape((1, -1) + (1,) * dims)
    return out


# --------------------------------------------------------------------------------------------------- the fit


@dataclass
class FitProblem:
    """One reference's fit, as :meth:`StyleInverter.prepare` makes it: the searched style [1, 256], the decoder's
    style-independent inputs at the window's frames (the varying ones), the mel filters of the reference's band, and
    the aligned target cepstra with their weights. numpy only: it can be saved and fitted elsewhere (a GPU)."""

    style: np.ndarray
    static: dict[str, np.ndarray]
    filters: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    speaker: np.ndarray | None = None   # the reference's GE2E embedding [256]: the speaker term's target
    campplus: np.ndarray | None = None  # the reference's CAM++ embedding [192], L2-normed: the second encoder's target
    band_hz: float | None = None        # the reference's band: what the speaker term hears (None: the whole band)
    # further windows of the same reading, (static, targets, weights) each like the three above: the steps take the
    # windows in turn, so that the offset is fitted to more of the reference's speech than one window holds
    more: list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]] = field(default_factory=list)


@dataclass
class Inversion:
    """What :meth:`StyleInverter.invert` found: ``offset`` [128] to add to the timbre half of every style row."""

    offset: np.ndarray
    fit_start: float
    fit_end: float
    steps: int
    seconds: float
    text: str
    history: list[float] = field(default_factory=list)
    prepare_s: float = 0.0   # of ``seconds``: Kokoro's reading, the alignment and the first render, before any step
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)   # step → best offset then (descend's snapshots)
    # step → the offset kept then with ``ahead`` (the update after a step that improved, else the best): benchmarks
    ahead_snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    ahead: bool = False      # the offset is the last update's, not an evaluated one (StyleInverter ``ahead``)
    # GE2E cosine of the window's audio to the reference, at the start and at the kept step (with a speaker term)
    speaker_start: float | None = None
    speaker_end: float | None = None
    # the same for CAM++'s cosine (with a CAM++ term)
    campplus_start: float | None = None
    campplus_end: float | None = None

    def report(self) -> dict:
        out = {"fitStart": round(self.fit_start, 4), "fitEnd": round(self.fit_end, 4), "steps": self.steps,
               "seconds": round(self.seconds, 1), "prepareS": round(self.prepare_s, 1)}
        if self.speaker_start is not None and self.speaker_end is not None:
            out.update(speakerStart=round(self.speaker_start, 4), speakerEnd=round(self.speaker_end, 4))
        if self.campplus_start is not None and self.campplus_end is not None:
            out.update(campplusStart=round(self.campplus_start, 4), campplusEnd=round(self.campplus_end, 4))
        if self.ahead:
            out["ahead"] = True
        return out


class StyleInverter:
    """Fits the timbre style to a reference (module docstring). Thread-safe; one compiled fit per process."""

    def __init__(self, model: DecoderGraph | str | Path, spread: np.ndarray, *, frames: int = 120, steps: int = 30,
                 learning_rate: float = 0.05, pull: float = 0.01, match_quantile: float = 1.0,
                 keep: float = 0.0, fixed: dict[str, np.ndarray] | None = None, speaker_weight: float = 0.0,
                 encoder=None, speaker_band: bool = False, campplus_weight: float = 0.0,
                 campplus_encoder=None, basis: np.ndarray | None = None, windows: int = 1,
                 centre: float = 0.0, ahead: bool = False) -> None:
        """``model``: Kokoro's ONNX file, or a graph already split (:meth:`DecoderGraph.load` elsewhere, with the
        window's ``fixed`` values saved from :attr:`fixed`); ``spread``: :func:`timbre_spread` of the stock voices;
        ``speaker_weight``: the weight of the speaker term (1 − GE2E cosine of the window's audio to the problem's
        ``speaker``; 0: none), ``encoder`` its weights (``speaker_encoder.Ge2eWeights``; default the installed),
        ``speaker_band``: the term hears the window's audio in the reference's band (False: the whole band);
        ``campplus_weight``: the weight of a second speaker term, 1 − the CAM++ cosine to the problem's ``campplus``
        (0: none), ``campplus_encoder`` its weights (``campplus.CampplusWeights``; default the installed);
        ``basis``: [k, 128] orthonormal directions (:func:`timbre_basis`, in spread units) the offset is confined to
        (None: every timbre dim moves on its own); ``windows``: how many consecutive windows of the reading
        :meth:`prepare` pairs with the reference (the steps take them in turn; those with under half a window of text
        are left out); ``centre``: the share of each side's mean cepstrum (over the fitted frames) taken out before
        the envelope match (1: only the envelope's shape over time is matched, not the recording's long-term colour —
        its channel and room, which the EQ and the exemplar step already move toward; 0: absolute cepstra);
        ``ahead``: when the last step evaluated improved on the best so far (with one window), the offset kept is
        the update that step's gradient made — never evaluated, as a further step would — instead of the evaluated
        one: every step evaluates the offset *before* its update, so the last update is otherwise thrown away."""
        self.graph = model if isinstance(model, DecoderGraph) else DecoderGraph(model)
        self.spread = np.asarray(spread, np.float32).reshape(1, STYLE_HALF)
        self.frames, self.steps, self.learning_rate, self.pull = frames, steps, learning_rate, pull
        self.match_quantile, self.keep, self.speaker_weight = match_quantile, keep, speaker_weight
        self.speaker_band = speaker_band
        self.campplus_weight = campplus_weight
        self._encoder, self._campplus_encoder = encoder, campplus_encoder
        self.basis = None if basis is None else np.asarray(basis, np.float32).reshape(-1, STYLE_HALF)
        self.windows = max(1, int(windows))
        self.centre = float(centre)
        self.ahead = bool(ahead)
        self._lock = threading.Lock()
        self._step = self._render = None
        self.step_s: float | None = None   # the last fit's mean step, seconds: whether one more fits a deadline
        self.fixed = fixed if fixed is not None else self._fixed_values()

    def _fixed_values(self) -> dict[str, np.ndarray]:
        """The static values that depend only on the number of frames (window sums, index arithmetic): constants
        of the compiled fit, concrete under jit, as the graph's NonZero and shape arithmetic need."""
        rng = np.random.default_rng(0)
        frames = self.frames
        one, two = (self.graph.static_values(rng.standard_normal((1, 512, frames)).astype(np.float32),
                                             np.abs(rng.standard_normal((1, 2 * frames))).astype(np.float32) * 200,
                                             rng.standard_normal((1, 2 * frames)).astype(np.float32))
                    for _ in range(2))
        return {name: value for name, value in one.items() if np.array_equal(value, two[name])}

    @property
    def dims(self) -> int:
        """How many numbers the fit moves: the basis's directions, or every timbre dim."""
        return STYLE_HALF if self.basis is None else self.basis.shape[0]

    def _offset(self, z) -> np.ndarray:
        """The timbre offset [128] (style units) for the fit's variables ``z``."""
        moved = np.asarray(z, np.float32) if self.basis is None else np.asarray(z, np.float32) @ self.basis
        return (self.spread * moved).reshape(-1).astype(np.float32)

    @property
    def cepstral_frames(self) -> int:
        return 1 + self.frames * FRAME // HOP

    def _compiled(self):
        """(the jitted fit step: loss and gradient, the jitted forward: cepstra of the decoder's audio)."""
        if self._step is None:
            import jax
            import jax.numpy as jnp

            dct = dct_matrix()
            embed = None
            if self.speaker_weight > 0:
                from . import ge2e_jax, speaker_encoder

                weights = self._encoder if self._encoder is not None else speaker_encoder.default_encoder().weights
                embed = ge2e_jax.embedder(weights, self.frames * FRAME, SAMPLE_RATE)
            embed_campplus = None
            if self.campplus_weight > 0:
                from . import campplus, campplus_jax

                campplus_weights = self._campplus_encoder if self._campplus_encoder is not None \
                    else campplus.default_encoder().weights
                embed_campplus = campplus_jax.embedder(campplus_weights, self.frames * FRAME, SAMPLE_RATE)

            def render(style, static, filters):
                audio = self.graph.audio(style, {**static, **self.fixed}).reshape(-1)
                return cepstra(audio, filters, dct, jnp)[0]

            def loss(z, base, static, filters, targets, weights, original, speaker, campplus_target, band_hz):
                moved = z if self.basis is None else z @ self.basis
                style = jnp.concatenate([base[:, :STYLE_HALF] + self.spread * moved, base[:, STYLE_HALF:]], axis=1)
                audio = self.graph.audio(style, {**static, **self.fixed}).reshape(-1)
                ceps = cepstra(audio, filters, dct, jnp)[0]
                ours, theirs = ceps[: targets.shape[0], 1:], targets[:, 1:]
                total = jnp.maximum(jnp.sum(weights), 1.0)
                if self.centre:   # a constant of the compiled fit
                    ours = ours - self.centre * jnp.sum(ours * weights[:, None], axis=0) / total
                    theirs = theirs - self.centre * jnp.sum(theirs * weights[:, None], axis=0) / total
                error = jnp.abs(ours - theirs).mean(axis=1)
                fit = jnp.sum(error * weights) / total
                # articulation kept: the frame-to-frame change of the envelope stays that of the searched voice
                moves = ceps[1: targets.shape[0], 1:] - ceps[: targets.shape[0] - 1, 1:]
                drift = jnp.abs(moves - (original[1:, 1:] - original[:-1, 1:])).mean(axis=1)
                kept = jnp.sum(drift * weights[1:]) / jnp.maximum(jnp.sum(weights[1:]), 1.0)
                # the speaker terms: the envelope match alone hears no identity. Two encoders of unlike
                # architectures (an LSTM, a 2-D conv + dense TDNN) so that neither is fooled alone; ECAPA only
                # measures (docs/voice-quality.md, "A speaker term in the style fit", "Two encoders in the fit")
                similarity = jnp.dot(embed(audio, band_hz), speaker) if embed is not None else jnp.zeros(())
                campplus_similarity = jnp.dot(embed_campplus(audio, band_hz), campplus_target) \
                    if embed_campplus is not None else jnp.zeros(())
                objective = fit + self.speaker_weight * (1.0 - similarity) \
                    + self.campplus_weight * (1.0 - campplus_similarity)
                return objective + self.keep * kept + self.pull * jnp.sum(z ** 2) / STYLE_HALF, \
                    (objective, similarity, campplus_similarity)

            self._render = jax.jit(render)
            self._step = jax.jit(jax.value_and_grad(loss, has_aux=True))
        return self._step, self._render

    def render(self, problem: FitProblem):
        """The decoder's output cepstra in the problem's style (the compiled forward pass; benchmarks time it)."""
        _, render = self._compiled()
        return render(problem.style, problem.static, problem.filters)

    def _varying(self, static: dict) -> dict:
        return {name: value for name, value in static.items() if name not in self.fixed}

    def warm_up(self, like: dict[str, np.ndarray] | None = None) -> float:
        """Compile the fit (10-26 s on 2 cores) on silence, so that no enrolment waits for it; ``like``: a problem's
        static values, whose shapes stand in where no ONNX Runtime part is loaded (:meth:`DecoderGraph.load`).
        Returns seconds."""
        started = time.monotonic()
        if like is None:
            features = np.zeros((1, 512, self.frames), np.float32)
            curve = np.zeros((1, 2 * self.frames), np.float32)
            static = self._varying(self.graph.static_values(features, curve, curve))
        else:
            static = {name: np.zeros_like(value) for name, value in like.items()}
        targets = np.zeros((self.cepstral_frames, CEPSTRA), np.float32)
        weights = np.zeros(self.cepstral_frames, np.float32)
        with self._lock:
            step, render = self._compiled()
            render(np.zeros((1, 256), np.float32), static, mel_matrix(7600.0)).block_until_ready()
            step(np.zeros((1, self.dims), np.float32), np.zeros((1, 256), np.float32), static,
                 mel_matrix(7600.0), targets, weights, targets, np.zeros(256, np.float32),
                 np.zeros(CAMPPLUS_SIZE, np.float32), np.float32(WHOLE_BAND_HZ))[1].block_until_ready()
        return time.monotonic() - started

    def invert(self, reference: np.ndarray, rate: int, text: str, tokens, style: np.ndarray, band_hz: float,
               reading: np.ndarray, deadline: float | None = None,
               progress: Callable[[str], None] | None = None, speaker: np.ndarray | None = None,
               snapshots: Sequence[int] = (), campplus: np.ndarray | None = None,
               pitch: float = 1.0) -> Inversion | None:
        """Fit the timbre to ``reference`` (mono float audio at ``rate``), whose words are ``text`` and phonemes
        ``tokens``, starting from ``style`` [1, 256]; ``band_hz`` the reference's bandwidth; ``reading`` Kokoro's
        24 kHz audio of ``tokens`` in ``style`` (what is aligned with the reference); ``speaker`` the reference's
        GE2E embedding (the speaker term's target; without it the term is off), ``campplus`` its CAM++ embedding
        (the second term's; likewise); ``pitch`` the factor on Kokoro's predicted F0 the clone speaks with (the
        reading too is at that pitch). Stops before a step would overrun
        ``deadline`` (time.monotonic()); ``snapshots`` as :meth:`descend`'s. None when the reference and the reading
        cannot be paired."""
        started = time.monotonic()
        problem = self.prepare(reference, rate, tokens, style, band_hz, reading, pitch)
        if problem is None:
            return None
        if speaker is not None:
            problem.speaker = np.asarray(speaker, np.float32).reshape(-1)
        if campplus is not None:
            target = np.asarray(campplus, np.float32).reshape(-1)
            problem.campplus = target / max(float(np.linalg.norm(target)), 1e-12)   # the JAX side is L2-normed
        found = self.descend(problem, deadline=deadline, progress=progress, snapshots=snapshots)
        found.text = text
        found.prepare_s += time.monotonic() - started - found.seconds
        found.seconds = time.monotonic() - started
        return found

    def prepare(self, reference: np.ndarray, rate: int, tokens, style: np.ndarray, band_hz: float,
                reading: np.ndarray, pitch: float = 1.0) -> FitProblem | None:
        """What :meth:`descend` fits (ONNX Runtime and numpy only; arguments as :meth:`invert`'s). None when the
        text is too short for the window or too little of the reference pairs with Kokoro's reading."""
        from scipy.signal import resample_poly

        style = np.asarray(style, np.float32).reshape(1, -1)
        text_features, text_f0, text_energy = self.graph.text_features(tokens, style)
        text_f0 = text_f0 * np.float32(pitch)   # what the graph's ``pitch`` input does to the decoder's F0
        # window w starts at decoder frame w * frames; one with under half a window of text is not fitted
        starts = [w * self.frames for w in range(self.windows)
                  if text_features.shape[2] - w * self.frames >= self.frames // 2]
        if not starts:
            return None   # too little text for the fit's window
        reference = np.asarray(reference, np.float32)
        if rate != SAMPLE_RATE:
            divisor = np.gcd(rate, SAMPLE_RATE)
            reference = resample_poly(reference, SAMPLE_RATE // divisor, rate // divisor).astype(np.float32)
        filters, dct = mel_matrix(min(band_hz, SAMPLE_RATE / 2) * 0.95), dct_matrix()
        synthetic, _ = cepstra(np.asarray(reading, np.float32), filters, dct)
        target, log_mel = cepstra(reference, filters, dct)
        a, b = synthetic[:, 1:20] - synthetic[:, 1:20].mean(0), target[:, 1:20] - target[:, 1:20].mean(0)
        path = dtw_path(a, b)
        # pairs that match badly are mostly different sounds (the transcript is a recogniser's guess): not fitted
        distance = np.sqrt(((a[path[:, 0]] - b[path[:, 1]]) ** 2).sum(-1))
        usable = distance <= np.quantile(distance, self.match_quantile)
        loud = log_mel.max(axis=1)
        windows = []
        for start in starts:
            features, f0, energy, kept = _fixed_length(text_features[:, :, start:], text_f0[:, 2 * start:],
                                                       text_energy[:, 2 * start:], self.frames)
            first = start * FRAME // HOP   # the window's first cepstral frame in the reading
            shifted = path - np.array([first, 0])
            targets, weights = aligned_targets(shifted, target, self.cepstral_frames, loud,
                                               float(np.percentile(loud, 30)), usable & (shifted[:, 0] >= 0))
            weights[kept * FRAME // HOP:] = 0.0   # frames past the text's end (padding) are not fitted
            if weights.sum() >= self.cepstral_frames // 4:
                windows.append((self._varying(self.graph.static_values(features, f0, energy)),
                                targets.astype(np.float32), weights.astype(np.float32)))
        if not windows:
            return None
        (static, targets, weights), more = windows[0], windows[1:]
        return FitProblem(style, static, filters, targets, weights, band_hz=float(band_hz), more=more)

    def descend(self, problem: FitProblem, deadline: float | None = None,
                progress: Callable[[str], None] | None = None, snapshots: Sequence[int] = ()) -> Inversion:
        """Adam on the timbre offset (JAX: CPU, or a GPU where jax has one); at most :attr:`steps` steps, stopping
        before one would overrun ``deadline``. ``snapshots``: steps after which the best offset so far is kept in
        :attr:`Inversion.snapshots` (benchmarks)."""
        import jax.numpy as jnp

        started = time.monotonic()
        style, filters = problem.style, problem.filters
        windows = [(problem.static, problem.targets, problem.weights), *problem.more]
        # no target, no speaker term: a zero target makes its gradient zero (the objective only shifts)
        speaker = problem.speaker if problem.speaker is not None else np.zeros(256, np.float32)
        campplus_target = problem.campplus if problem.campplus is not None else np.zeros(CAMPPLUS_SIZE, np.float32)
        band_hz = np.float32(problem.band_hz if self.speaker_band and problem.band_hz is not None
                             else WHOLE_BAND_HZ)
        history, similarities, best, kept = [], [], (np.inf, np.zeros((1, self.dims), np.float32), (None, None)), {}
        kept_ahead: dict[int, np.ndarray] = {}
        improved = False   # the last step evaluated was the best so far: its update is the offset kept with ``ahead``
        lowest = [np.inf] * len(windows)   # each window's lowest objective so far
        with self._lock:
            step, render = self._compiled()
            originals = [np.asarray(render(style, static, filters))[: self.cepstral_frames].astype(np.float32)
                         for static, _, _ in windows]
            prepared = time.monotonic() - started
            z = jnp.zeros((1, self.dims), jnp.float32)
            first, second = jnp.zeros_like(z), jnp.zeros_like(z)
            beta1, beta2 = 0.9, 0.999
            looping = time.monotonic()
            # the reading and alignment may have taken the time: not even one step (at the last fit's step cost)
            room = deadline is None or self.step_s is None or looping + self.step_s <= deadline
            for k in range(1, self.steps + 1 if room else 1):
                window = (k - 1) % len(windows)
                static, targets, weights = windows[window]
                (_, (fit, similarity, campplus_similarity)), gradient = step(
                    z, style, static, filters, targets, weights, originals[window], speaker, campplus_target,
                    band_hz)
                history.append(float(fit))
                similarities.append((float(similarity), float(campplus_similarity)))
                # kept: the last offset that improved on the window it was scored on (objectives of different
                # windows do not compare; with one window, the lowest)
                improved = history[-1] < lowest[window]
                if improved:
                    lowest[window] = history[-1]
                    best = (history[-1], np.asarray(z), similarities[-1])
                first = beta1 * first + (1 - beta1) * gradient
                second = beta2 * second + (1 - beta2) * gradient * gradient
                z = z - self.learning_rate * (first / (1 - beta1 ** k)) / (jnp.sqrt(second / (1 - beta2 ** k)) + 1e-8)
                if k in snapshots:
                    kept[k] = self._offset(best[1])
                    kept_ahead[k] = self._offset(z if improved and len(windows) == 1 else best[1])
                if progress and k % 5 == 0:
                    progress(f"style inversion: step {k}/{self.steps}, fit {history[0]:.3f} -> {min(history):.3f}")
                now = time.monotonic()
                self.step_s = (now - looping) / k
                if deadline is not None and now + self.step_s > deadline:
                    break   # one more step (at the mean cost so far) would overrun
        ahead = self.ahead and improved and len(windows) == 1
        offset = self._offset(z if ahead else best[1])
        start = history[0] if history else float("nan")
        found = Inversion(offset, start, best[0], len(history), time.monotonic() - started, "", history,
                          prepared, kept, ahead_snapshots=kept_ahead, ahead=ahead)
        if problem.speaker is not None and self.speaker_weight > 0 and similarities:
            found.speaker_start, found.speaker_end = similarities[0][0], best[2][0]
        if problem.campplus is not None and self.campplus_weight > 0 and similarities:
            found.campplus_start, found.campplus_end = similarities[0][1], best[2][1]
        return found


def _fixed_length(features: np.ndarray, f0: np.ndarray, energy: np.ndarray, frames: int):
    """Crop or pad (silence: zero features and F0, the lowest energy) to ``frames`` decoder frames, so one compiled
    fit serves every text. Returns the three arrays and how many frames hold the text."""
    kept = min(features.shape[2], frames)
    out_features = np.zeros((1, features.shape[1], frames), np.float32)
    out_features[:, :, :kept] = features[:, :, :kept]
    out_f0 = np.zeros((1, 2 * frames), np.float32)
    out_f0[:, : 2 * kept] = f0[:, : 2 * kept]
    out_energy = np.full((1, 2 * frames), float(energy.min()), np.float32)
    out_energy[:, : 2 * kept] = energy[:, : 2 * kept]
    return out_features, out_f0, out_energy, kept


def reference_text(reference: np.ndarray, rate: int, recogniser, segment_s: float,
                   stop_at: float | None = None) -> tuple[np.ndarray, str]:
    """The first ``segment_s`` seconds of speech (whole stretches between pauses, joined with 0.25 s of silence)
    and what the recogniser heard in them; no further stretch is transcribed once ``stop_at`` (time.monotonic())
    has passed, so a slow recogniser shortens the segment instead of overrunning enrolment's budget."""
    chosen, heard, total = [], [], 0.0
    for start, end in speech_spans(reference, rate):
        if total >= segment_s or (chosen and stop_at is not None and time.monotonic() > stop_at):
            break
        chosen.append(reference[start:end])
        heard.append(recogniser.transcribe(chosen[-1], rate))
        total += (end - start) / rate
    gap = np.zeros(int(0.25 * rate), np.float32)
    audio = np.concatenate([np.concatenate([clip, gap]) for clip in chosen]) if chosen else np.zeros(0, np.float32)
    return audio, ". ".join(h for h in heard if h)




# --------------------------------------------------------------------------------------------------- enrolment

# The fit's fixed settings (docs/voice-quality.md, "Style fit in enrolment"): best 80 % of the aligned pairs, the
# envelope's motion held at 0.25, and by default a faint pull and half the fitted offset applied (the whole one cost
# 8-20 points of word error rate on 2 CPU cores' 6 steps); the CPU settings pull harder and keep more (session 25).
PULL = 0.01
MATCH_QUANTILE = 0.8
KEEP = 0.25
SCALE = 0.5          # fraction of the fitted offset stored in the profile (default of FitSettings.scale)


@dataclass(frozen=True)
class FitSettings:
    """How much fitting an enrolment affords, by where JAX runs it (:func:`settings_for`)."""

    frames: int            # the window fitted, decoder frames (40 a second): one compilation serves every speaker
    steps: int             # Adam steps at most (fewer if the budget ends first)
    learning_rate: float
    segment_s: float       # seconds of the reference transcribed and aligned
    reserve_s: float       # what enrolment takes from the search's budget for the fit
    min_s: float           # the fit starts only with this much of the budget left
    after_transcript_s: float  # what the fit needs once the transcript is in: Kokoro's reading, alignment, a step
    scale: float = SCALE   # fraction of the fitted offset stored in the profile
    speaker_weight: float = 0.0  # the speaker term's weight (StyleInverter); 0: the envelope match alone
    campplus_weight: float = 0.0  # the CAM++ term's weight (StyleInverter); 0: none
    windows: int = 1       # consecutive windows of the transcribed segment, fitted in turn (StyleInverter)
    pull: float = PULL     # the weight of the offset's size (mean square, in spreads) in the objective
    centre: float = 0.0    # the share of the mean cepstrum taken out of both sides of the envelope match
    ahead: bool = False    # keep the last update when the last step improved (StyleInverter ``ahead``)
    transcript: str = "words"  # how the reference's segment is transcribed for Kokoro to read (:func:`transcriber`)
    cap: float = 0.0       # the fitted offset's largest size, spreads rms, before ``scale`` (:func:`capped`; 0: none)


# 2 CPU cores: a 3 s window, 6 steps at 0.2 (≈ 2.3 s a step; session 12's 12 steps at 0.1 gained as much in twice the
# time, a 2 s window half as much on ECAPA); transcription, reading and alignment 6.4-15.8 s (median 8.4 s, 4 real
# speakers: bench.gpu_style_fit cpu-part), 17-22 s in all (the steps stop at the budget's end). After the transcript:
# Kokoro's reading 1.2-1.6 s, alignment and first render 1.6-1.8 s, a step 2.3 s.
# The speaker term at 4 (session 20, 12 real speakers, half the offset kept): held-out GE2E 0.733 → 0.749, ECAPA
# 0.271 → 0.292, CAM++ 0.330 → 0.353 (neither in the objective), WER 27.7 → 30.7 % (stock voices 35.2 %).
# Session 21 (bench.style_inversion, 12 real speakers, half the offset): more steps beat more search. Steps 6 → 9 → 12
# took held-out GE2E 0.762 → 0.773 → 0.782 (ECAPA 0.303 → 0.310 → 0.307, CAM++ 0.356 → 0.366 → 0.372) at the same
# WER and DNSMOS, and a search cut from ≈ 33 s to ≈ 17 s (9 evaluations instead of 17) lost 0.007 GE2E and nothing on
# ECAPA or CAM++. So the fit's reserve is 28 s (≈ 8 steps of 2.9 s after transcription and alignment) and the search
# keeps ≈ 18 s; the steps stop at the budget's end, 12 at most.
# Session 22 (bench.style_inversion, 12 real speakers, 9 steps, half the offset): a CAM++ term at 2 beside GE2E's
# took held-out ECAPA — in no objective — 0.314 → 0.343 and the clones beating every other speaker on it 7 → 9 of 12,
# GE2E 0.771 → 0.776, CAM++ 0.372 → 0.430, WER 31.4 → 28.0 % at the same OVRL (3.33 → 3.34), for ≈ 0.1 s a step
# (and 0.8 s for the target of a 30 s reference); at 6 ECAPA 0.351, but GE2E 0.765 and 7 of 12.
# Session 25 (bench.style_inversion --pulls 0.01,1 --scales 0.5,0.6,0.75, 12 real speakers, 8 steps): a pull of 1
# makes the fit reach its similarity with an offset ≈ 18 % smaller (0.60-0.66 spreads rms, 0.73-0.80 at 0.01), so
# that more of it can be stored: at 0.75 of it, GE2E 0.770 → 0.777, ECAPA 0.336 → 0.353 (8 → 9 of 12 clones beating
# every stranger), CAM++ 0.417 → 0.439, WER 28.4 → 26.1 %, OVRL 3.34 → 3.32 against the half offset of the
# unpulled fit; 0.75 of the unpulled offset got as much similarity for WER 31.4 % and OVRL 3.28.
# Session 27 (bench.style_inversion --learning-rates 0.2,0.3 --pulls 1 --scales 0.75 --steps 8, 12 real speakers): with
# the pull, Adam at 0.3 reaches further in the same steps at no OVRL cost — GE2E 0.776 → 0.783, ECAPA 0.339 → 0.350,
# CAM++ 0.417 → 0.434, WER 25.8 → 26.9 % (stock 26.1 %), OVRL 3.28 → 3.30 (session 24, unpulled: +0.012 GE2E for
# −0.03 OVRL). End to end (bench.voice_quality_real --sentences 3): GE2E 0.782, ECAPA 0.357, CAM++ 0.442, WER 24.6 %,
# OVRL 3.31 (session 26 at 0.2: 0.771 / 0.339 / 0.419, 25.8 %, 3.31).
# Session 28 (bench.style_inversion --ahead both --learning-rates 0.3,0.45 --steps 7,10, 12 real speakers): keeping
# the last update when the last step improved (``ahead``) took held-out GE2E 0.785 → 0.787 at 7 steps, same OVRL;
# but end to end it once stepped past the minimum (the LibriVox reader: a ninth evaluation was worse, OVRL 3.26 →
# 3.09), so it stays off. Not shipped either: 0.45 (GE2E 0.793, WER + 8.7 points over the stock voices, OVRL 3.26),
# 0.9 of the offset kept (WER + 6.8 points), the all-phone transcript (GE2E 0.778, OVRL 3.26).
# Session 29 (--caps 0,0.8,0.9 at 0.3 and 0.45): a cap on the offset's size gains nothing (0.45 capped at 0.9: +0.003
# GE2E, same ECAPA beats and OVRL); the clone whose OVRL fell was not the one with the largest offset.
# Session 34 (a machine where a step takes 1.6 s): 12 → 16 → 20 steps moved nothing (GE2E 0.794 / 0.793 / 0.793, the
# fit has converged); a 5 s window reached GE2E 0.802 only at twice the steps' time. 8 s of the reference transcribed
# instead of 6 (the window is still the reading's first 3 s; a longer transcript aligns it better): ECAPA beats 7 → 9
# of 12 both in the A/B and end to end, the same two speakers gaining in both, means within ±0.004, ≈ 1 s more.
CPU_SETTINGS = FitSettings(frames=120, steps=12, learning_rate=0.3, segment_s=8.0, reserve_s=28.0, min_s=9.0,
                           after_transcript_s=5.5, scale=0.75, speaker_weight=4.0, campplus_weight=2.0, pull=1.0)
# A GPU (an H200: bench/gpu_style_fit.py, docs/voice-quality.md "The style fit on a GPU"): a step costs 18-20 ms for
# a 3 or a 6 s window, so 80 steps at 0.1 on 6 s (≈ 1.6 s; 300 steps at 0.05 gained no more) with 12 s transcribed.
# The reserve is for the part that stays on the CPU — transcription (pocketsphinx), Kokoro's reading of ≈ 12 s and
# the alignment: 14.5-21.3 s (median 16 s) on 2 cores, of which 6-7.5 s reading and 3.8-5 s alignment after the
# transcript. 0.35 of the offset, not half: half cost DNSMOS OVRL 3.28 →
# 3.23 and 3.6 points of WER for +0.005 GE2E; at 0.35 the clones still beat the CPU settings' on every encoder
# (+0.008 / +0.012 / +0.008) at the same OVRL (3.27 vs 3.28) and WER (21.4 vs 20.8 %). No speaker term: 80 steps of it
# were never measured on a GPU (6 steps raise the window's GE2E from 0.75 to 0.94 already: more may overfit it).
GPU_SETTINGS = FitSettings(frames=240, steps=80, learning_rate=0.1, segment_s=12.0, reserve_s=20.0, min_s=14.0,
                           after_transcript_s=10.0, scale=0.35)


def settings_for(backend: str) -> FitSettings:
    """The settings for JAX's default backend (``jax.default_backend()``: "cpu", "gpu", "cuda", "rocm", "tpu")."""
    return CPU_SETTINGS if backend == "cpu" else GPU_SETTINGS


def campplus_target(speech: np.ndarray, rate: int) -> np.ndarray:
    """The CAM++ term's target: the embedding (numpy CAM++) of the screened reference's first
    :data:`CAMPPLUS_TARGET_S`, L2-normed."""
    from .campplus import default_encoder

    embedding = default_encoder().embed(np.asarray(speech)[: int(CAMPPLUS_TARGET_S * rate)], rate)
    return (embedding / max(float(np.linalg.norm(embedding)), 1e-12)).astype(np.float32)


# The all-phone search's US-English phones (intelligibility.PHONES) in Kokoro's US-English symbols (misaki's, as
# voicekit.g2p gives them for en-us): a vowel held 80 ms or more is read stressed (ˈ), a shorter AH and ER reduced.
_PHONE_IPA = {"AA": "ɑ", "AE": "æ", "AH": "ʌ", "AO": "ɔ", "AW": "W", "AY": "I", "EH": "ɛ", "ER": "ɜɹ", "EY": "A",
              "IH": "ɪ", "IY": "i", "OW": "O", "OY": "Y", "UH": "ʊ", "UW": "u", "B": "b", "CH": "ʧ", "D": "d",
              "DH": "ð", "F": "f", "G": "ɡ", "HH": "h", "JH": "ʤ", "K": "k", "L": "l", "M": "m", "N": "n", "NG": "ŋ",
              "P": "p", "R": "ɹ", "S": "s", "SH": "ʃ", "T": "t", "TH": "θ", "V": "v", "W": "w", "Y": "j", "Z": "z",
              "ZH": "ʒ"}
_REDUCED = {"AH": "ə", "ER": "əɹ"}
_VOWELS = frozenset(("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"))
_STRESSED_FRAMES = 8   # decoder frames (10 ms): a vowel this long is read stressed


def phones_to_ipa(segments: Sequence[tuple[str, int, int]]) -> str:
    """Kokoro's US-English phoneme string for the all-phone search's segments
    (``intelligibility.PhoneLabeller.phones``): the phones heard, in any language, as the nearest English ones.
    Silence and noise end a word; so does a consonant that starts a syllable after a word's second vowel (Kokoro
    reads words, not one run of phones)."""
    words: list[list[str]] = [[]]
    vowels = 0
    names = [name for name, _, _ in segments]
    for k, (name, start, end) in enumerate(segments):
        if name not in _PHONE_IPA:   # SIL, +NSN+, +SPN+ …
            if words[-1]:
                words.append([])
                vowels = 0
            continue
        vowel = name in _VOWELS
        onset = not vowel and k + 1 < len(names) and names[k + 1] in _VOWELS
        if onset and vowels >= 2:
            words.append([])
            vowels = 0
        if vowel:
            vowels += 1
            long = end - start + 1 >= _STRESSED_FRAMES
            words[-1].append("ˈ" + _PHONE_IPA[name] if long else _REDUCED.get(name, _PHONE_IPA[name]))
        else:
            words[-1].append(_PHONE_IPA[name])
    return " ".join("".join(word) for word in words if word)


class PhoneTranscriber:
    """:func:`reference_text`'s recogniser for the phone transcript: the all-phone search (fast — 0.04 s a second
    of audio —, and it hears any language as the nearest English phones, where the word recogniser hears English
    words) in Kokoro's symbols (:func:`phones_to_ipa`)."""

    def __init__(self, labeller=None) -> None:
        if labeller is None:
            from .intelligibility import shared_labeller

            labeller = shared_labeller()
        self.labeller = labeller

    def transcribe(self, samples: np.ndarray, rate: int) -> str:
        return phones_to_ipa(self.labeller.phones(samples, rate))


TRANSCRIPTS = ("words", "phones")   # FitSettings.transcript: what :func:`transcriber` hears the reference as


def transcriber(transcript: str):
    """What :func:`reference_text` hears the reference with: "words" (pocketsphinx's US-English recogniser) or
    "phones" (:class:`PhoneTranscriber`)."""
    if transcript == "phones":
        return PhoneTranscriber()
    from .intelligibility import Recogniser

    return Recogniser()


def transcript_tokens(engine, text: str, transcript: str) -> list[int]:
    """Kokoro's tokens for what :func:`transcriber` heard: the words' US-English phonemes, or the phones as they
    are (``transcript`` "phones": already Kokoro's symbols; [] for nothing heard)."""
    from . import kokoro

    if transcript == "phones":
        return kokoro.tokenize(text, engine.vocab)[: kokoro.MAX_TOKENS] if text else []
    return english_tokens(engine, text)


def english_tokens(engine, text: str) -> list[int]:
    """Kokoro's phoneme tokens for the recogniser's transcript (US English, first piece; [] for no text): what
    Kokoro reads to be aligned with the reference."""
    from . import kokoro

    pieces = engine.phoneme_pieces(text, "en-us") if text else []
    return kokoro.tokenize(pieces[0], engine.vocab) if pieces else []


def stock_timbres(engine) -> np.ndarray:
    """The timbre halves of the English stock voices' packs [voices, 510, 128]: their spread is the fit's unit."""
    names = [name for name in engine.voices if name[:2] in ("af", "am", "bf", "bm")]
    return np.stack([engine.voice_pack(name)[:, :STYLE_HALF] for name in names])


def timbre_basis(timbres: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` principal directions [count, 128] (orthonormal, in :func:`timbre_spread` units) along which the
    stock voices' timbres differ from one another (:func:`stock_timbres`; every row of every pack): the span of real
    voices the fit can be confined to (``StyleInverter(basis=…)``)."""
    timbres = np.asarray(timbres, np.float32)
    deviations = (timbres - timbres.mean(axis=0, keepdims=True)) / timbre_spread(timbres)
    _, _, directions = np.linalg.svd(deviations.reshape(-1, STYLE_HALF).astype(np.float64), full_matrices=False)
    return directions[:count].astype(np.float32)


def timbre_spread(timbres: np.ndarray) -> np.ndarray:
    """The stock voices' spread per timbre dim [1, 128] (:func:`stock_timbres`): the unit the fit moves in, so that
    no dim dominates by scale."""
    return np.asarray(timbres, np.float32).std(axis=0).mean(axis=0).reshape(1, STYLE_HALF)


def offset_size(offset: np.ndarray, spread: np.ndarray) -> float:
    """An offset's size: the root mean square of its dims in the stock voices' spreads (:func:`timbre_spread`)."""
    return float(np.sqrt(np.mean((np.asarray(offset, np.float64).reshape(-1) / np.asarray(spread).reshape(-1)) ** 2)))


def capped(offset: np.ndarray, spread: np.ndarray, cap: float) -> np.ndarray:
    """``offset`` shrunk along itself to size ``cap`` (:func:`offset_size`) when larger; unchanged when not, or when
    ``cap`` is 0. A trust region for the few fits that run far: their clone loses quality before it gains likeness."""
    size = offset_size(offset, spread)
    if cap <= 0 or size <= cap:
        return offset
    return (np.asarray(offset) * (cap / size)).astype(np.float32)


class Fitter:
    """The style fit as enrolment runs it: built and compiled in a background thread (34-37 s on 2 cores with both
    speaker terms) so that loading the model does not wait; until it is :attr:`ready`, enrolments go without it. A
    failure to build (no JAX, no float-convolution model) leaves :attr:`error` set and enrolment unaffected."""

    def __init__(self, engine, *, settings: FitSettings | None = None, log: Callable[[str], None] | None = None,
                 background: bool = True) -> None:
        """``settings``: None = by where JAX runs (:func:`settings_for`), decided when the fit is built."""
        self.engine = engine
        self._chosen = settings
        self.settings = settings or CPU_SETTINGS
        self.inverter: StyleInverter | None = None
        self.error: str | None = None
        self.compile_s: float | None = None
        self._log = log or (lambda message: None)
        self._recogniser = None
        self._done = threading.Event()
        if background:
            threading.Thread(target=self._build, name="style-fit-compile", daemon=True).start()
        else:
            self._build()

    def _build(self) -> None:
        from .kokoro import MODEL_FILE

        try:
            import jax

            backend = jax.default_backend()
            settings = self._chosen or settings_for(backend)
            inverter = StyleInverter(self.engine.directory / MODEL_FILE, timbre_spread(stock_timbres(self.engine)),
                                     frames=settings.frames, steps=settings.steps,
                                     learning_rate=settings.learning_rate, pull=settings.pull,
                                     match_quantile=MATCH_QUANTILE,
                                     keep=KEEP, speaker_weight=settings.speaker_weight,
                                     campplus_weight=settings.campplus_weight, windows=settings.windows,
                                     centre=settings.centre, ahead=settings.ahead)
            self.compile_s = inverter.warm_up()
            self.settings, self.inverter = settings, inverter
            self._log(f"style fit ready on {backend}: compiled in {self.compile_s:.1f} s; {settings}")
        except Exception as exc:  # noqa: BLE001 — any failure here only means enrolling without the fit
            self.error = f"{type(exc).__name__}: {exc}"
            self._log(f"style fit unavailable ({self.error}); enrolments go without it")
        finally:
            self._done.set()

    @property
    def ready(self) -> bool:
        return self.inverter is not None

    @property
    def status(self) -> str:
        """"ready", "compiling" or "unavailable" (see :attr:`error`)."""
        return "ready" if self.inverter is not None else "unavailable" if self.error is not None else "compiling"

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the build to end (tests, benchmarks); True if the fit is ready."""
        self._done.wait(timeout)
        return self.ready

    def fit(self, speech: np.ndarray, rate: int, pack: np.ndarray, band_hz: float,
            deadline: float | None = None, speaker: np.ndarray | None = None,
            pitch: float = 1.0) -> tuple[np.ndarray | None, dict]:
        """(the offset to store — the settings' ``scale`` × the fitted one —, a report) for a clone whose style pack
        is ``pack`` [510, 256] and whose F0 is scaled by ``pitch`` (the profile's pitch match), from the screened
        reference ``speech`` whose GE2E embedding is ``speaker`` (the speaker term's target); (None, report with
        ``skipped``) when it cannot run."""
        from . import kokoro

        if self.inverter is None:
            return None, {"skipped": self.status}
        started = time.monotonic()
        if self._recogniser is None:
            self._recogniser = transcriber(self.settings.transcript)
        after = self.settings.after_transcript_s
        segment, text = reference_text(speech, rate, self._recogniser, self.settings.segment_s,
                                       stop_at=None if deadline is None else deadline - after)
        if deadline is not None and deadline - time.monotonic() < after:
            return None, {"skipped": "budget spent transcribing"}
        tokens = transcript_tokens(self.engine, text, self.settings.transcript)
        if not tokens:
            return None, {"skipped": "no words heard in the reference"}
        target = campplus_target(speech, rate) if self.settings.campplus_weight > 0 else None
        found = self.inverter.invert(segment, rate, text, tokens, kokoro.style_row(pack, len(tokens)), band_hz,
                                     self.engine.infer(tokens, pack, pitch=pitch), deadline=deadline,
                                     speaker=speaker, campplus=target, pitch=pitch)
        if found is None:
            return None, {"skipped": "too little speech aligned"}
        if found.steps == 0:
            return None, {"skipped": "budget spent before the first step"}
        scale, cap = self.settings.scale, self.settings.cap
        kept = capped(found.offset, self.inverter.spread, cap)
        size = {"size": round(offset_size(found.offset, self.inverter.spread), 3),
                **({"cappedTo": cap} if kept is not found.offset else {})}
        return (scale * kept).astype(np.float32), \
            {**found.report(), "totalS": round(time.monotonic() - started, 1), "scale": scale, **size}
