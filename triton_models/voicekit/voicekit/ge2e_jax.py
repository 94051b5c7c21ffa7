"""Resemblyzer's GE2E encoder (``speaker_encoder``) written in JAX, so that a fit can follow its gradient.

The same arithmetic as :func:`speaker_encoder.embed_preprocessed` on audio whose level is fixed at -30 dBFS
(``fixed_level=True``), with two differences that keep it differentiable and shape-static: the resampling to
16 kHz is an FFT brick wall at 8 kHz (soxr's filter rolls off just below it), and long silences are not trimmed
(WebRTC's VAD is a decision, not a function; the fit's window is speech). Inputs have a fixed length, so the
partials are fixed at trace time. The same brick wall can stop at a lower ``band_hz``: a clone fitted to a
telephone recording is compared with it in the recording's band.
"""
from __future__ import annotations

import numpy as np

from . import speaker_encoder as se


def partial_starts(samples_16k: int) -> list[int]:
    """The mel-frame starts of the partials of a clip of ``samples_16k`` samples at 16 kHz."""
    return [start for start, _ in se.partial_slices(samples_16k)]


def resampler(samples: int, rate: int, target_rate: int):
    """(the resampled length, a JAX function: (audio [>= samples] at ``rate``, ``band_hz`` — traced, or None for
    the whole band) → its first ``samples`` resampled to ``target_rate`` by an FFT brick wall, nothing above
    ``band_hz`` kept). Shared by the encoders the fit follows (GE2E here, CAM++ in :mod:`campplus_jax`)."""
    import jax.numpy as jnp

    size = int(round(samples * target_rate / rate))
    bins = np.fft.rfftfreq(size, 1.0 / target_rate).astype(np.float32)

    def resample(audio, band_hz=None):
        x = audio.reshape(-1)[:samples]
        if rate == target_rate and band_hz is None:
            return x
        spectrum = jnp.fft.rfft(x)[: size // 2 + 1]
        if band_hz is not None:
            spectrum = jnp.where(bins <= band_hz, spectrum, 0.0)
        return jnp.fft.irfft(spectrum, n=size) * (size / samples)

    return size, resample


def embedder(weights: se.Ge2eWeights, samples: int, rate: int):
    """A JAX function: (audio [samples] float32 at ``rate`` Hz, ``band_hz`` — a scalar, traced: nothing above it
    is heard; None for the whole band) → its GE2E embedding [256] (L2-normed)."""
    import jax
    import jax.numpy as jnp

    size, resample = resampler(samples, rate, se.SAMPLE_RATE)
    starts = partial_starts(size)
    end = (starts[-1] + se.PARTIAL_FRAMES) * se.MEL_HOP
    padded_size = max(size, end)
    n_frames = 1 + padded_size // se.MEL_HOP
    index = (np.arange(n_frames)[:, None] * se.MEL_HOP + np.arange(se.MEL_WINDOW)[None, :]).astype(np.int32)
    basis = jnp.asarray(se._MEL_BASIS.T)
    window = jnp.asarray(se._WINDOW.astype(np.float32))
    lstm = [(jnp.asarray(a), jnp.asarray(b), jnp.asarray(c)) for a, b, c in weights.lstm]
    linear_w, linear_b = jnp.asarray(weights.linear_w), jnp.asarray(weights.linear_b)
    partial_index = np.stack([np.arange(s, s + se.PARTIAL_FRAMES) for s in starts]).astype(np.int32)

    def network(x):  # [batch, frames, 40]
        h = None
        for w_ih, w_hh, bias in lstm:
            gates_x = jnp.swapaxes(x @ w_ih + bias, 0, 1)  # [frames, batch, 1024]
            batch = x.shape[0]

            def cell(carry, g, w_hh=w_hh):
                h, c = carry
                gates = g + h @ w_hh
                i, f, gg, o = jnp.split(gates, 4, axis=1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(gg)
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                return (h, c), h

            zeros = jnp.zeros((batch, se.HIDDEN_SIZE), jnp.float32)
            (h, _), outputs = jax.lax.scan(cell, (zeros, zeros), gates_x)
            x = jnp.swapaxes(outputs, 0, 1)
        raw = jnp.maximum(h @ linear_w + linear_b, 0.0)
        return raw / jnp.maximum(jnp.linalg.norm(raw, axis=1, keepdims=True), 1e-12)

    def embed(audio, band_hz=None):
        x = resample(audio, band_hz)   # brick-wall resampling: keep the bins below 8 kHz
        rms = jnp.sqrt(jnp.mean((x * se.INT16_MAX) ** 2) + 1e-6)
        x = x * (10.0 ** (se.AUDIO_NORM_TARGET_DBFS / 20.0) * se.INT16_MAX / rms)
        x = jnp.pad(x, (se.MEL_WINDOW // 2, se.MEL_WINDOW // 2 + padded_size - size))
        frames = x[index] * window
        power = jnp.abs(jnp.fft.rfft(frames, axis=1)) ** 2
        mel = power @ basis
        partials = network(mel[partial_index])
        raw = partials.mean(axis=0)
        return raw / jnp.linalg.norm(raw)

    return embed
