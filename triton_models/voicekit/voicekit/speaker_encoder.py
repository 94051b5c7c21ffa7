"""Speaker embeddings: Resemblyzer's GE2E d-vector encoder (256-d, L2-normalised), without torch or librosa.

A faithful numpy reimplementation of ``resemblyzer==0.1.4``
``VoiceEncoder().embed_utterance(preprocess_wav(samples, source_sr=rate))``:

1. **Preprocess** (``resemblyzer/audio.py: preprocess_wav``)
   - resample to 16 kHz as ``librosa.resample`` does (its default ``soxr_hq``, through ``soxr``; no-op at 16 kHz),
   - normalise the volume to an RMS of -30 dBFS, *increasing only* (louder input is left as it is),
   - trim long silences with WebRTC's VAD (``webrtcvad``, aggressiveness 3, 30 ms frames of 16-bit PCM): the
     per-frame speech flags are smoothed by a moving average of 8 frames and rounded, the voiced mask is dilated
     by 3 frames (7-frame structuring element) on each side, and only samples under the mask are kept. The
     trailing partial frame is dropped. So silences longer than ~0.2 s shrink, shorter pauses stay.
2. **Mel spectrogram** (``wav_to_mel_spectrogram``, i.e. ``librosa.feature.melspectrogram`` defaults): power
   (not log) mel spectrogram, 40 Slaney mels (0-8 kHz, Slaney-normalised filters), 400-sample (25 ms) periodic
   Hann window, 160-sample (10 ms) hop, ``center=True`` with zero (``constant``) padding as librosa >= 0.10.
3. **Partials** (``compute_partial_slices``, rate 1.3 per second, min coverage 0.75): windows of 160 frames
   (1.6 s) every round(16000 / 1.3 / 160) = 77 frames; the last one is dropped when it covers less than 75 % of
   real audio (unless it is the only one); the waveform is zero-padded to the last window's end.
4. **Network** per partial: 3-layer LSTM (40 → 256, gate order i, f, g, o as torch), the last layer's final
   hidden state → linear 256 → ReLU → L2 norm; the utterance embedding is the mean of the partials, L2-normed.

Weights: the ``model_state`` of Resemblyzer's ``pretrained.pt`` (torch legacy serialization, read by
:mod:`voicekit.ge2e_weights` with pickle + numpy). The file ships in the ``resemblyzer`` wheel, which is installed
*without its dependencies* (``pip install --no-deps resemblyzer==0.1.4``: torch, librosa... are not needed) and
located with ``importlib.util.find_spec`` — never imported, since importing it imports torch.

Parity with the original on the repository's fixtures: cosine > 0.99999 (see ``triton_models/README.md``).
"""
from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import VoicekitError
from .ge2e_weights import CheckpointError, load_legacy_checkpoint
from .pcm import validate_audio

# resemblyzer/hparams.py
SAMPLE_RATE = 16000
MEL_WINDOW = 400          # 25 ms
MEL_HOP = 160             # 10 ms
MEL_CHANNELS = 40
PARTIAL_FRAMES = 160      # 1.6 s
VAD_WINDOW = 480          # 30 ms
VAD_MOVING_AVERAGE_WIDTH = 8
VAD_MAX_SILENCE_LENGTH = 6
VAD_MODE = 3
AUDIO_NORM_TARGET_DBFS = -30.0
HIDDEN_SIZE = 256
EMBEDDING_SIZE = 256
NUM_LAYERS = 3
PARTIAL_RATE = 1.3
MIN_COVERAGE = 0.75
INT16_MAX = 2 ** 15 - 1

MAX_SECONDS = 600.0       # one request's audio; enrolment references are far shorter
PARTIAL_BATCH = 32        # partials per LSTM pass: bounds memory (32 x 160 x 1024 float32 gates = 21 MB)

WEIGHTS_ENV = "VOICEKIT_GE2E_WEIGHTS"
WEIGHTS_PACKAGE = "resemblyzer"
WEIGHTS_FILE = "pretrained.pt"
INSTALL_HINT = "pip install --no-deps -r triton_models/requirements-nodeps.txt (resemblyzer==0.1.4)"


# ---------------------------------------------------------------------------------------------- weights


def find_weights(path: str | os.PathLike | None = None) -> Path:
    """The GE2E checkpoint: ``path``, else ``$VOICEKIT_GE2E_WEIGHTS``, else ``pretrained.pt`` of the installed
    ``resemblyzer`` package (found without importing it). Raises :class:`VoicekitError` ``encoder_unavailable``."""
    chosen = path or os.environ.get(WEIGHTS_ENV)
    if chosen:
        candidate = Path(chosen)
        if not candidate.is_file():
            raise VoicekitError("encoder_unavailable", f"speaker encoder weights not found at {candidate}",
                                invalid_input=False)
        return candidate
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)  # a top-level name: nothing gets imported
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    problem = (f"the installed {WEIGHTS_PACKAGE} package has no {WEIGHTS_FILE}" if locations else
               f"the {WEIGHTS_PACKAGE} package, which ships them ({WEIGHTS_FILE}), is not installed in this Python")
    raise VoicekitError("encoder_unavailable", f"speaker encoder weights missing: {problem}; install it without "
                                               f"its dependencies: {INSTALL_HINT}", invalid_input=False)


@dataclass(frozen=True)
class Ge2eWeights:
    """float32 arrays, transposed for ``x @ W``: per LSTM layer (w_ih.T [in, 1024], w_hh.T [256, 1024],
    b_ih + b_hh [1024]), rows of 1024 = gates i, f, g, o; linear.weight.T [256, 256], linear.bias [256]."""

    lstm: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    linear_w: np.ndarray
    linear_b: np.ndarray

    @classmethod
    def load(cls, path: str | os.PathLike | None = None) -> "Ge2eWeights":
        file = find_weights(path)
        try:
            state = load_legacy_checkpoint(file, section="model_state")
        except (OSError, CheckpointError) as exc:
            raise VoicekitError("encoder_unavailable", f"cannot read speaker encoder weights {file}: {exc}",
                                invalid_input=False) from exc
        return cls.from_state_dict(state, str(file))

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray], source: str = "state dict") -> "Ge2eWeights":
        def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
            value = state.get(name)
            if value is None or tuple(value.shape) != shape:
                got = None if value is None else tuple(value.shape)
                raise VoicekitError("encoder_unavailable", f"{source}: {name} should have shape {shape}, got {got}",
                                    invalid_input=False)
            return np.ascontiguousarray(value, dtype=np.float32)

        gates = 4 * HIDDEN_SIZE
        layers = []
        for layer in range(NUM_LAYERS):
            inputs = MEL_CHANNELS if layer == 0 else HIDDEN_SIZE
            w_ih = get(f"lstm.weight_ih_l{layer}", (gates, inputs))
            w_hh = get(f"lstm.weight_hh_l{layer}", (gates, HIDDEN_SIZE))
            bias = get(f"lstm.bias_ih_l{layer}", (gates,)) + get(f"lstm.bias_hh_l{layer}", (gates,))
            # Transposed once here so that the per-step products are x @ W (row-major, contiguous).
            layers.append((np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), bias))
        return cls(tuple(layers), np.ascontiguousarray(get("linear.weight", (EMBEDDING_SIZE, HIDDEN_SIZE)).T),
                   get("linear.bias", (EMBEDDING_SIZE,)))


# ---------------------------------------------------------------------------------------------- preprocessing


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """``librosa.resample(samples, orig_sr=rate, target_sr=target)`` (``soxr_hq``; length ceil(n * ratio))."""
    if rate == target:
        return samples
    try:
        import soxr
    except ImportError as exc:  # pragma: no cover - soxr is in requirements.txt
        raise VoicekitError("encoder_unavailable", "the soxr package (resampling) is not installed",
                            invalid_input=False) from exc
    out = soxr.resample(samples, rate, target, quality="soxr_hq")
    size = int(np.ceil(len(samples) * float(target) / rate))
    if len(out) >= size:
        out = out[:size]
    else:
        out = np.pad(out, (0, size - len(out)))
    return np.asarray(out, dtype=samples.dtype)


def normalize_volume(wav: np.ndarray, target_dbfs: float = AUDIO_NORM_TARGET_DBFS,
                     increase_only: bool = True) -> np.ndarray:
    """Scale to an RMS of ``target_dbfs``; with ``increase_only`` (Resemblyzer's) never down. float32 like the
    original."""
    rms = np.sqrt(np.mean((wav * np.float32(INT16_MAX)) ** 2))
    if not rms > 0:
        raise VoicekitError("invalid_audio", "audio is silent (all samples are zero)")
    wave_dbfs = np.float32(20) * np.log10(rms / np.float32(INT16_MAX))
    change = np.float32(target_dbfs) - wave_dbfs
    if change < 0 and increase_only:
        return wav
    return wav * np.float32(10 ** (change / np.float32(20)))


def voice_flags(pcm: np.ndarray, mode: int = VAD_MODE) -> np.ndarray:
    """WebRTC VAD decision (bool) per 30 ms frame of 16 kHz int16 PCM (len a multiple of 480), in order: the
    detector adapts to the signal, so one instance sees all frames in sequence, as in the original."""
    try:
        import webrtcvad
    except ImportError as exc:
        raise VoicekitError("encoder_unavailable", "the webrtcvad module (webrtcvad-wheels) is not installed",
                            invalid_input=False) from exc
    vad = webrtcvad.Vad(mode)
    data = np.ascontiguousarray(pcm, dtype="<i2").tobytes()
    step = VAD_WINDOW * 2
    return np.array([vad.is_speech(data[i:i + step], SAMPLE_RATE) for i in range(0, len(data), step)], dtype=bool)


def speech_mask(flags: np.ndarray) -> np.ndarray:
    """Per-frame keep mask from raw VAD flags: moving average (width 8) → round → dilate ±3 frames."""
    width = VAD_MOVING_AVERAGE_WIDTH
    padded = np.concatenate((np.zeros((width - 1) // 2), flags.astype(float), np.zeros(width // 2)))
    acc = np.cumsum(padded, dtype=float)
    acc[width:] = acc[width:] - acc[:-width]
    mask = np.round(acc[width - 1:] / width).astype(bool)
    # scipy.ndimage.binary_dilation(mask, np.ones(7)) with a zero border
    size = VAD_MAX_SILENCE_LENGTH + 1
    half = size // 2
    return np.convolve(mask.astype(np.int32), np.ones(size, dtype=np.int32))[half: half + len(mask)] > 0


def trim_long_silences(wav: np.ndarray) -> np.ndarray:
    """Drop the trailing partial 30 ms frame and the frames the smoothed VAD mask does not keep."""
    wav = wav[: len(wav) - len(wav) % VAD_WINDOW]
    if len(wav) == 0:
        return wav
    # The original rounds to int16 without clipping (out-of-range values wrap); clipping is the sane version.
    pcm = np.clip(np.round(wav * np.float32(INT16_MAX)), -32768, 32767).astype(np.int16)
    mask = speech_mask(voice_flags(pcm))
    return wav[np.repeat(mask, VAD_WINDOW)]


def preprocess(samples: np.ndarray, sample_rate: int, fixed_level: bool = False) -> np.ndarray:
    """``resemblyzer.preprocess_wav(samples, source_sr=sample_rate)``: 16 kHz, -30 dBFS (up only), silences
    trimmed. ``fixed_level`` scales louder input *down* to -30 dBFS too (not Resemblyzer's behaviour; see
    :meth:`SpeakerEncoder.embed`). Raises ``invalid_audio`` for silent input."""
    wav = np.asarray(samples, dtype=np.float32)
    wav = resample(wav, int(sample_rate))
    wav = normalize_volume(wav, increase_only=not fixed_level)
    return trim_long_silences(wav)


# ---------------------------------------------------------------------------------------------- mel spectrogram


def _hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    """Slaney's auditory-toolbox mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    freqs = np.asarray(freqs, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freqs / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = freqs >= min_log_hz
    mels[log_t] = min_log_mel + np.log(freqs[log_t] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    return freqs


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = MEL_WINDOW, n_mels: int = MEL_CHANNELS) -> np.ndarray:
    """``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)``: [n_mels, 1 + n_fft // 2] float32, Slaney
    mel scale 0..sr/2, triangles normalised to equal area (``norm="slaney"``)."""
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([sr / 2.0]))[0],
                                   n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2: n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, np.newaxis]  # in place into float32, exactly as librosa does
    return weights


_MEL_BASIS = mel_filterbank()
_WINDOW = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(MEL_WINDOW) / MEL_WINDOW)  # periodic Hann (fftbins=True)


def mel_spectrogram(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram [frames, 40] float32 of 16 kHz audio, frames = 1 + len // 160 (librosa's
    ``melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=40)``, transposed)."""
    wav = np.asarray(wav, dtype=np.float32)
    pad = MEL_WINDOW // 2
    padded = np.pad(wav, (pad, pad), mode="constant")
    n_frames = 1 + (len(padded) - MEL_WINDOW) // MEL_HOP
    frames = np.lib.stride_tricks.as_strided(padded, shape=(n_frames, MEL_WINDOW),
                                             strides=(padded.strides[0] * MEL_HOP, padded.strides[0]),
                                             writeable=False)
    spectrum = np.fft.rfft(frames * _WINDOW, axis=1).astype(np.complex64)  # librosa stores complex64
    power = np.abs(spectrum) ** 2
    return power @ _MEL_BASIS.T


# ---------------------------------------------------------------------------------------------- partials + network


def partial_slices(n_samples: int, rate: float = PARTIAL_RATE,
                   min_coverage: float = MIN_COVERAGE) -> list[tuple[int, int]]:
    """Mel-frame ranges [start, stop) of the partial utterances (``VoiceEncoder.compute_partial_slices``)."""
    samples_per_frame = MEL_HOP
    n_frames = int(np.ceil((n_samples + 1) / samples_per_frame))
    frame_step = int(np.round((SAMPLE_RATE / rate) / samples_per_frame))
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    slices = [(i, i + PARTIAL_FRAMES) for i in range(0, steps, frame_step)]
    last_start, last_stop = slices[-1][0] * samples_per_frame, slices[-1][1] * samples_per_frame
    coverage = (n_samples - last_start) / (last_stop - last_start)
    if coverage < min_coverage and len(slices) > 1:
        slices = slices[:-1]
    return slices


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # 0.5 * (1 + tanh(x / 2)) == 1 / (1 + exp(-x)), without overflow warnings for large |x|
    return np.float32(0.5) * (np.float32(1.0) + np.tanh(np.float32(0.5) * x))


def network(mels: np.ndarray, weights: Ge2eWeights) -> np.ndarray:
    """Partial embeddings [batch, 256] (L2-normed, >= 0) of mel batches [batch, frames, 40] float32."""
    x = np.asarray(mels, dtype=np.float32)
    batch, steps, _ = x.shape
    h = np.zeros((batch, HIDDEN_SIZE), dtype=np.float32)
    for w_ih, w_hh, bias in weights.lstm:
        gates_x = x @ w_ih + bias  # [batch, steps, 1024]: the input part of every step at once
        h = np.zeros((batch, HIDDEN_SIZE), dtype=np.float32)
        c = np.zeros((batch, HIDDEN_SIZE), dtype=np.float32)
        outputs = np.empty((batch, steps, HIDDEN_SIZE), dtype=np.float32)
        for t in range(steps):
            gates = gates_x[:, t] + h @ w_hh
            i = _sigmoid(gates[:, :HIDDEN_SIZE])
            f = _sigmoid(gates[:, HIDDEN_SIZE: 2 * HIDDEN_SIZE])
            g = np.tanh(gates[:, 2 * HIDDEN_SIZE: 3 * HIDDEN_SIZE])
            o = _sigmoid(gates[:, 3 * HIDDEN_SIZE:])
            c = f * c + i * g
            h = o * np.tanh(c)
            outputs[:, t] = h
        x = outputs
    raw = np.maximum(h @ weights.linear_w + weights.linear_b, 0)
    norms = np.linalg.norm(raw, axis=1, keepdims=True)
    return raw / np.maximum(norms, np.float32(1e-12))


def embed_preprocessed(wav: np.ndarray, weights: Ge2eWeights) -> np.ndarray:
    """``VoiceEncoder.embed_utterance(wav)`` of an already preprocessed 16 kHz waveform: [256] float32."""
    slices = partial_slices(len(wav))
    end = slices[-1][1] * MEL_HOP
    if end >= len(wav):
        wav = np.pad(wav, (0, end - len(wav)))
    mel = mel_spectrogram(wav)
    partials = [network(np.stack([mel[start:stop] for start, stop in slices[i:i + PARTIAL_BATCH]]), weights)
                for i in range(0, len(slices), PARTIAL_BATCH)]
    raw = np.concatenate(partials).mean(axis=0)
    return (raw / np.linalg.norm(raw)).astype(np.float32)


# ---------------------------------------------------------------------------------------------- public API


def validate(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """pcm.validate_audio's checks, plus the encoder's own length limit."""
    samples = validate_audio(samples, sample_rate)
    if samples.size > MAX_SECONDS * int(sample_rate):
        raise VoicekitError("invalid_audio", f"audio is longer than {MAX_SECONDS:.0f} s "
                                             f"({samples.size / int(sample_rate):.1f} s)")
    return samples


class SpeakerEncoder:
    """The GE2E encoder with its weights loaded once; ``embed`` is thread-safe (no shared mutable state)."""

    def __init__(self, weights: Ge2eWeights | None = None, weights_path: str | os.PathLike | None = None) -> None:
        self.weights = weights if weights is not None else Ge2eWeights.load(weights_path)

    def embed(self, samples: np.ndarray, sample_rate: int, *, fixed_level: bool = False) -> np.ndarray:
        """Mono float audio at any rate 8-192 kHz → 256-d L2-normalised float32 speaker embedding.

        The network sees a *power* (not log) mel spectrogram, so the embedding depends on loudness: Resemblyzer
        raises quiet input to -30 dBFS but leaves louder input alone, and the same clip at -15 and at -30 dBFS
        gives cosine ~0.84-0.97. The default is exactly Resemblyzer's (the parity reference); ``fixed_level=True``
        brings every input to -30 dBFS first, which makes the embedding independent of the input's gain - use it
        when comparing audio from different sources (e.g. generated speech vs a recording).

        Raises :class:`VoicekitError` ``invalid_audio`` (empty, silent, no speech found, bad rate, too long).
        """
        samples = validate(samples, sample_rate)
        wav = preprocess(samples, int(sample_rate), fixed_level=fixed_level)
        if len(wav) == 0:
            raise VoicekitError("invalid_audio", "no speech found in the audio")
        return embed_preprocessed(wav, self.weights)

    def embed_many(self, clips, sample_rate: int, *, fixed_level: bool = False) -> np.ndarray:
        """:meth:`embed` of several clips [n, 256], their partials run through the LSTM together: the per-step
        cost barely grows with the batch, so a few short clips cost about one (enrolment scores EQ variants)."""
        mels, owners = [], []
        for index, samples in enumerate(clips):
            wav = preprocess(validate(samples, sample_rate), int(sample_rate), fixed_level=fixed_level)
            if len(wav) == 0:
                raise VoicekitError("invalid_audio", "no speech found in the audio")
            slices = partial_slices(len(wav))
            end = slices[-1][1] * MEL_HOP
            mel = mel_spectrogram(np.pad(wav, (0, max(0, end - len(wav)))))
            mels += [mel[start:stop] for start, stop in slices]
            owners += [index] * len(slices)
        partials = np.concatenate([network(np.stack(mels[i:i + PARTIAL_BATCH]), self.weights)
                                   for i in range(0, len(mels), PARTIAL_BATCH)])
        owners_ = np.asarray(owners)
        raw = np.stack([partials[owners_ == i].mean(axis=0) for i in range(len(clips))])
        return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).astype(np.float32)


_default: SpeakerEncoder | None = None
_default_lock = threading.Lock()


def default_encoder() -> SpeakerEncoder:
    """A process-wide encoder with the installed weights (loaded on first use, ~0.1 s)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SpeakerEncoder()
        return _default


def embed(samples: np.ndarray, sample_rate: int, *, fixed_level: bool = False) -> np.ndarray:
    """:meth:`SpeakerEncoder.embed` with the process-wide encoder."""
    return default_encoder().embed(samples, sample_rate, fixed_level=fixed_level)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings (1.0 = same direction)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
