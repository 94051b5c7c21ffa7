"""3D-Speaker's CAM++ encoder (:mod:`campplus`) written in JAX, so that the style fit can follow its gradient too.

The same arithmetic as :func:`campplus.fbank` and :func:`campplus.network` (the weights, BatchNorms folded, are
:class:`campplus.CampplusWeights`' own), in float32 throughout (the numpy front end frames in float64), with the
resampling to 16 kHz an FFT brick wall at 8 kHz (:func:`ge2e_jax.resampler`; the numpy path uses soxr, whose
filter rolls off earlier: cosine 0.987-0.999 between the two on test clips). A traced ``band_hz`` cuts what it
hears, as the GE2E one's: the style cannot move what is above it, so a fit toward a telephone recording is not drawn
to imitate the channel (the empty bins' log energies are the floor here and the filter's leakage in numpy: the two
embeddings of a clip cut at 3.4 kHz part, cosine 0.82). The input length is fixed at trace time, so the frame count
and the CAM layers' segments are static.
"""
from __future__ import annotations

import numpy as np

from . import campplus as cp
from .ge2e_jax import resampler


def embedder(weights: cp.CampplusWeights, samples: int, rate: int):
    """A JAX function: (audio [samples] float32 at ``rate`` Hz, ``band_hz`` — a scalar, traced: nothing above it is
    heard; None for the whole band) → its CAM++ embedding [192], L2-normed (cosines are dot products)."""
    import jax
    import jax.numpy as jnp

    size, resample = resampler(samples, rate, cp.SAMPLE_RATE)
    if size < cp.FRAME_LENGTH:
        raise ValueError(f"{samples} samples at {rate} Hz are too short for CAM++'s front end")
    frames = 1 + (size - cp.FRAME_LENGTH) // cp.FRAME_SHIFT
    index = (np.arange(cp.FRAME_LENGTH)[None, :] + cp.FRAME_SHIFT * np.arange(frames)[:, None]).astype(np.int32)
    filters, window = jnp.asarray(cp._FILTERS), jnp.asarray(cp._WINDOW)

    def conv1d(layer: cp._Conv1d, x):
        """x [in, T] → [out, T'] (zero padding as torch's, the stride along time)."""
        if layer.kernel == 1:
            return jnp.asarray(layer.weight) @ x + layer.bias
        kernel = layer.weight.reshape(layer.weight.shape[0], -1, layer.kernel)
        pad = (layer.kernel - 1) // 2 * layer.dilation
        y = jax.lax.conv_general_dilated(x[None], kernel, (layer.stride,), [(pad, pad)],
                                         rhs_dilation=(layer.dilation,), dimension_numbers=("NCH", "OIH", "NCH"))
        return y[0] + layer.bias

    def conv2d(layer: cp._Conv2d, x):
        """x [in, frequency, T] → [out, frequency', T] (the stride along frequency)."""
        if layer.kernel == 1:
            strided = x[:, ::layer.stride, :]
            out = jnp.asarray(layer.weight) @ strided.reshape(strided.shape[0], -1) + layer.bias
            return out.reshape(-1, strided.shape[1], strided.shape[2])
        kernel = layer.weight.reshape(layer.weight.shape[0], -1, 3, 3)
        y = jax.lax.conv_general_dilated(x[None], kernel, (layer.stride, 1), [(1, 1), (1, 1)],
                                         dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y[0] + layer.bias[:, :, None]

    def res_block(block: cp._ResBlock, x):
        out = conv2d(block.conv2, jnp.maximum(conv2d(block.conv1, x), 0.0))
        return jnp.maximum(out + (x if block.shortcut is None else conv2d(block.shortcut, x)), 0.0)

    def dense_layer(layer: cp._DenseLayer, x):
        h = jnp.maximum(conv1d(layer.bottleneck, jnp.maximum(layer.norm1(x), 0.0)), 0.0)
        steps = h.shape[1]
        segments = -(-steps // cp.SEGMENT)
        padded = jnp.pad(h, ((0, 0), (0, segments * cp.SEGMENT - steps)))
        counts = np.minimum(cp.SEGMENT, steps - cp.SEGMENT * np.arange(segments)).astype(np.float32)
        context = padded.reshape(h.shape[0], segments, cp.SEGMENT).sum(axis=2) / counts \
            + h.mean(axis=1, keepdims=True)
        mask = jax.nn.sigmoid(conv1d(layer.mask2, jnp.maximum(conv1d(layer.mask1, context), 0.0)))
        return conv1d(layer.local, h) * jnp.repeat(mask, cp.SEGMENT, axis=1)[:, :steps]

    def features(x):
        """16 kHz audio [size] → [frames, 80] mean-normalised Kaldi fbank (:func:`campplus.fbank`)."""
        framed = x[index]
        framed = framed - framed.mean(axis=1, keepdims=True)
        framed = jnp.concatenate([framed[:, :1] * (1.0 - cp.PREEMPHASIS),
                                  framed[:, 1:] - cp.PREEMPHASIS * framed[:, :-1]], axis=1)
        spectrum = jnp.fft.rfft(framed * window, n=cp.N_FFT, axis=1)
        power = spectrum.real ** 2 + spectrum.imag ** 2   # not abs(): its gradient at a silent frame's 0 is NaN
        log_mel = jnp.log(jnp.maximum(power @ filters, cp.LOG_FLOOR))
        return log_mel - log_mel.mean(axis=0, keepdims=True)

    def network(feats):
        x = jnp.maximum(conv2d(weights.head_conv1, feats.T[None]), 0.0)
        for block in weights.head_layers:
            x = res_block(block, x)
        x = jnp.maximum(conv2d(weights.head_conv2, x), 0.0)
        x = jnp.maximum(conv1d(weights.tdnn, x.reshape(-1, x.shape[2])), 0.0)
        for layers, transit in zip(weights.blocks, weights.transits, strict=True):
            for layer in layers:
                x = jnp.concatenate([x, dense_layer(layer, x)], axis=0)
            x = conv1d(transit.conv, jnp.maximum(transit.norm(x), 0.0))
        x = jnp.maximum(weights.out_norm(x), 0.0)
        # a channel the ReLU silenced throughout has no spread: sqrt's gradient there is infinite (NaN after the
        # chain rule), so the variance is floored far below any real one
        spread = jnp.sqrt(jnp.maximum(x.var(axis=1, ddof=1), 1e-12))
        pooled = jnp.concatenate([x.mean(axis=1), spread])[:, None]
        return conv1d(weights.dense, pooled)[:, 0]

    def embed(audio, band_hz=None):
        raw = network(features(resample(audio, band_hz)))
        return raw / jnp.linalg.norm(raw)

    return embed
