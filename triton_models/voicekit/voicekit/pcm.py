"""Mono audio as numpy float32 in [-1, 1]: PCM16 conversion, WAV reading, trimming, click-free joining and
loudness levelling."""
from __future__ import annotations

import io
import math
import os
import wave
from typing import BinaryIO, Sequence

import numpy as np

from .errors import VoicekitError

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
# Every synthesis comes out at one loudness (ITU-R BS.1770 integrated, EBU R128's programme level), so that voices
# and clones do not jump in level: 12 real speakers' clones came out at -14.8 to -26.2 dBFS over their speech, the
# stock voices at -17.1 to -25.2. DNSMOS OVRL prefers it too (the clones 3.31 → 3.34, nothing else moved:
# docs/voice-quality.md "One loudness for every voice"). $VOICEKIT_OUTPUT_LUFS sets another level (-40 to -10) or
# turns levelling off ("off").
OUTPUT_LUFS = -23.0
OUTPUT_LUFS_ENV = "VOICEKIT_OUTPUT_LUFS"
LUFS_RANGE = (-40.0, -10.0)
PEAK_CEILING = 0.891   # -1 dBFS: the gain stops where a sample peak would pass it (no limiter: no distortion)
LOUDNESS_BLOCK_S = 0.4  # BS.1770's gating block: shorter audio cannot be measured and is left as it is


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float in [-1, 1] → little-endian int16 (clipped, rounded)."""
    scaled = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.round(scaled).astype("<i2")


def from_pcm16(data: bytes | np.ndarray) -> np.ndarray:
    """Little-endian int16 (bytes or array) → float32 in [-1, 1)."""
    pcm = np.frombuffer(data, dtype="<i2") if isinstance(data, (bytes, bytearray, memoryview)) else data
    return pcm.astype(np.float32) / 32768.0


def read_wav(source: str | BinaryIO | bytes) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV file → (mono float32 samples, sample rate). Multi-channel input is averaged."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    with wave.open(source, "rb") as wav:
        if wav.getsampwidth() != 2:
            raise VoicekitError("invalid_audio", f"expected 16-bit PCM WAV, got {8 * wav.getsampwidth()}-bit",
                                invalid_input=False)
        channels, rate = wav.getnchannels(), wav.getframerate()
        samples = from_pcm16(wav.readframes(wav.getnframes()))
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples.astype(np.float32, copy=False), rate


def write_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono float samples → a 16-bit PCM WAV file's bytes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(int(sample_rate))
        wav.writeframes(to_pcm16(samples).tobytes())
    return buffer.getvalue()


def validate_audio(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Check a request's audio: 1-D, non-empty, finite, sane rate. Returns it as contiguous float32."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise VoicekitError("invalid_audio", f"audio must be mono (1-D), got shape {samples.shape}")
    if samples.size == 0:
        raise VoicekitError("invalid_audio", "audio is empty")
    if not MIN_SAMPLE_RATE <= int(sample_rate) <= MAX_SAMPLE_RATE:
        raise VoicekitError("invalid_audio", f"sample rate must be {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz, "
                                             f"got {sample_rate}")
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if not np.isfinite(samples).all():
        raise VoicekitError("invalid_audio", "audio contains NaN or infinite samples")
    return samples


def active_region(samples: np.ndarray, sample_rate: int, threshold_db: float = -40.0,
                  frame_s: float = 0.01) -> tuple[int, int]:
    """[start, end) of the part louder than ``threshold_db`` below the loudest 10 ms frame; (0, 0) if silent."""
    frame = max(1, int(sample_rate * frame_s))
    count = len(samples) // frame
    if count == 0:
        return (0, len(samples)) if np.any(samples) else (0, 0)
    rms = np.sqrt(np.mean(samples[: count * frame].reshape(count, frame) ** 2, axis=1))
    peak = float(rms.max())
    if peak <= 1e-5:
        return 0, 0
    loud = np.flatnonzero(rms >= peak * 10 ** (threshold_db / 20))
    return int(loud[0] * frame), int(min(len(samples), (loud[-1] + 1) * frame))


def trim_silence(samples: np.ndarray, sample_rate: int, keep_s: float = 0.05) -> np.ndarray:
    """Drop leading and trailing silence, keeping ``keep_s`` around the speech."""
    start, end = active_region(samples, sample_rate)
    if end <= start:
        return samples[:0]
    keep = int(keep_s * sample_rate)
    return samples[max(0, start - keep): min(len(samples), end + keep)]


def fade_edges(samples: np.ndarray, sample_rate: int, fade_s: float = 0.01) -> np.ndarray:
    """Raised-cosine fade-in and fade-out so a segment starts and ends at zero (no clicks when joined)."""
    out = np.array(samples, dtype=np.float32, copy=True)
    n = min(int(fade_s * sample_rate), len(out) // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32))).astype(np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def join_segments(segments: Sequence[np.ndarray], sample_rate: int, gap_s: float = 0.3, edge_s: float = 0.1,
                  fade_s: float = 0.01) -> np.ndarray:
    """Trim, fade and concatenate speech segments with ``gap_s`` of silence between them and ``edge_s`` around."""
    gap = np.zeros(int(gap_s * sample_rate), dtype=np.float32)
    edge = np.zeros(int(edge_s * sample_rate), dtype=np.float32)
    parts: list[np.ndarray] = [edge]
    for segment in segments:
        speech = trim_silence(np.asarray(segment, dtype=np.float32), sample_rate)
        if speech.size == 0:
            continue
        if len(parts) > 1:
            parts.append(gap)
        parts.append(fade_edges(speech, sample_rate, fade_s))
    parts.append(edge)
    return np.concatenate(parts).astype(np.float32, copy=False)


def output_lufs() -> float | None:
    """The level synthesis is brought to (``$VOICEKIT_OUTPUT_LUFS``; default :data:`OUTPUT_LUFS`), None when
    levelling is off. A value that is not a number in :data:`LUFS_RANGE` falls back to the default."""
    raw = os.environ.get(OUTPUT_LUFS_ENV, "").strip().lower()
    if raw in ("off", "none", "0"):
        return None
    try:
        value = float(raw) if raw else OUTPUT_LUFS
    except ValueError:
        return OUTPUT_LUFS
    return value if math.isfinite(value) and LUFS_RANGE[0] <= value <= LUFS_RANGE[1] else OUTPUT_LUFS


def level(samples: np.ndarray, sample_rate: int, target_lufs: float | None = OUTPUT_LUFS,
          ceiling: float = PEAK_CEILING) -> np.ndarray:
    """``samples`` scaled to ``target_lufs`` integrated loudness (BS.1770, pyloudnorm), or less where a sample peak
    would pass ``ceiling``; returned as they are when ``target_lufs`` is None, when shorter than one gating block,
    or silent."""
    import pyloudnorm  # the models' environment has it; the front door never levels audio

    audio = np.asarray(samples, dtype=np.float32)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    if target_lufs is None or len(audio) <= LOUDNESS_BLOCK_S * sample_rate or peak <= 0.0:
        return audio
    measured = pyloudnorm.Meter(sample_rate, block_size=LOUDNESS_BLOCK_S).integrated_loudness(
        audio.astype(np.float64))
    if not math.isfinite(measured):
        return audio   # all of it under BS.1770's absolute gate (-70 LUFS): nothing to level
    gain = min(10.0 ** ((target_lufs - measured) / 20.0), ceiling / peak)
    return (audio * np.float32(gain)).astype(np.float32, copy=False)
