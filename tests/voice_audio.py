"""Reference recordings for the voice tests, made on the fly (nothing large is stored in the repository).

Speech comes from the Debian packages the stack installs (flite; espeak-ng when present), tones and silence from
numpy; PyAV converts them to MP3, WebM (Opus) and Ogg (Opus).
"""
from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

PARAGRAPH = ("The north wind and the sun were disputing which was the stronger, when a traveler came along "
             "wrapped in a warm cloak. They agreed that the one who first succeeded in making the traveler take his "
             "cloak off should be considered stronger than the other.")


def to_wav(samples: np.ndarray, rate: int) -> bytes:
    pcm = np.round(np.clip(np.asarray(samples, dtype=np.float32), -1, 1) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data), "rb") as handle:
        rate, channels = handle.getframerate(), handle.getnchannels()
        pcm = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return (pcm.reshape(-1, channels).mean(axis=1) if channels > 1 else pcm), rate


def flite_wav(text: str = PARAGRAPH, voice: str = "awb") -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(out)], check=True, capture_output=True,
                       timeout=60)
        return out.read_bytes()


def espeak_wav(text: str = PARAGRAPH, voice: str = "en+f3") -> bytes | None:
    """Speech by espeak-ng (another engine than the system voices), or None when it is not installed."""
    if shutil.which("espeak-ng") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(out), text], check=True, capture_output=True,
                       timeout=60)
        return out.read_bytes()


def tone(seconds: float, freq: float = 150.0, amplitude: float = 0.5, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


_CODECS = {"mp3": ("mp3", "libmp3lame", None), "webm": ("webm", "libopus", 48000), "ogg": ("ogg", "libopus", 48000)}


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """Mono float samples → the bytes of a ``wav``, ``mp3``, ``webm`` (Opus) or ``ogg`` (Opus) file."""
    if fmt == "wav":
        return to_wav(samples, rate)
    import av

    container_format, codec, codec_rate = _CODECS[fmt]
    pcm = np.round(np.clip(samples, -1, 1) * 32767).astype("<i2")[None, :]
    frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
    frame.sample_rate = rate
    frames = [frame]
    if codec_rate and codec_rate != rate:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=codec_rate)
        frames = resampler.resample(frame) + resampler.resample(None)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=codec_rate or rate, layout="mono")
        for item in frames:
            for packet in stream.encode(item):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def convert(wav_bytes: bytes, fmt: str) -> bytes:
    samples, rate = read_wav(wav_bytes)
    return encode(samples, rate, fmt)


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Any audio file PyAV reads → (mono float32 samples, sample rate)."""
    import av

    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    samples = np.concatenate([f.to_ndarray().reshape(f.samples, -1).mean(axis=1) if f.format.is_packed
                              else f.to_ndarray().mean(axis=0) for f in frames])
    return samples.astype(np.float32), frames[0].sample_rate


def median_f0(samples: np.ndarray, rate: int) -> float:
    from voicekit import pitch

    stats = pitch.stats(pitch.track(samples, rate))
    assert stats is not None, "no pitch found"
    return stats.median_hz
