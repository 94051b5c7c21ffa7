"""Mono float32 audio → the bytes of a file in one of the output formats, with its MIME type.

- ``mp3``: CBR MP3 at the input rate¹, 64 kbit/s up to 24 kHz, else 128 — ``audio/mpeg``
- ``wav``: RIFF WAVE, 16-bit PCM, mono, input rate (stdlib ``wave``) — ``audio/wav``
- ``opus``: Opus at 32 kbit/s in Ogg, resampled to 48 kHz — ``audio/ogg; codecs=opus``
- ``pcm``: raw signed 16-bit little-endian mono, input rate, no header —
  ``audio/pcm; rate=<N>; encoding=s16le; channels=1``

MP3 and Opus are encoded by FFmpeg's libmp3lame / libopus as bundled in PyAV (``av``): unlike a bare LAME stream
(e.g. ``lameenc``), FFmpeg's MP3 muxer writes the LAME/Info header with encoder delay and padding, so decoders
play back exactly the input's length (a bare stream decodes ~0.09 s longer: +4 % on a 2 s clip, +30 % on 0.3 s).

¹ MP3 only knows 8, 11.025, 12, 16, 22.05, 24, 32, 44.1 and 48 kHz; other rates are resampled to 48 kHz.
The duration reported is that of the input samples.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .errors import VoicekitError
from .pcm import to_pcm16, validate_audio, write_wav

FORMATS = ("mp3", "wav", "opus", "pcm")
MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})
MP3_BIT_RATE_LOW = 64000  # up to 24 kHz (MPEG-2 / 2.5)
MP3_BIT_RATE_HIGH = 128000  # 32 kHz and up (MPEG-1)
OPUS_RATE = 48000
OPUS_BIT_RATE = 32000


@dataclass(frozen=True)
class Encoded:
    data: bytes
    mime_type: str
    duration_s: float


def mime_type(fmt: str, sample_rate: int) -> str:
    if fmt == "mp3":
        return "audio/mpeg"
    if fmt == "wav":
        return "audio/wav"
    if fmt == "opus":
        return "audio/ogg; codecs=opus"
    if fmt == "pcm":
        return f"audio/pcm; rate={int(sample_rate)}; encoding=s16le; channels=1"
    raise VoicekitError("unsupported_format", f"format {fmt!r} is not supported; choose one of {', '.join(FORMATS)}")


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (FFmpeg's swresample through PyAV)."""
    if rate_in == rate_out:
        return samples
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate_out)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32)[None, :], format="flt",
                                       layout="mono")
    frame.sample_rate = rate_in
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)


def _encode_with_av(samples: np.ndarray, sample_rate: int, container_format: str, codec: str,
                    bit_rate: int) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container_format) as container:
        stream = container.add_stream(codec, rate=sample_rate, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(to_pcm16(samples)[None, :], format="s16", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):  # flush the encoder
            container.mux(packet)
    return buffer.getvalue()


def encode_mp3(samples: np.ndarray, sample_rate: int) -> bytes:
    """CBR MP3 with a LAME/Info header: decoders use its delay/padding fields to play exactly the input's length."""
    if sample_rate not in MP3_RATES:
        samples, sample_rate = resample(samples, sample_rate, 48000), 48000
    return _encode_with_av(samples, sample_rate, "mp3", "libmp3lame", MP3_BIT_RATE_LOW if sample_rate <= 24000
                           else MP3_BIT_RATE_HIGH)


def encode_opus(samples: np.ndarray, sample_rate: int) -> bytes:
    """Opus in Ogg at 48 kHz; the Ogg header's pre-skip makes decoders drop the encoder's look-ahead."""
    return _encode_with_av(resample(samples, sample_rate, OPUS_RATE), OPUS_RATE, "ogg", "libopus", OPUS_BIT_RATE)


def encode(samples: np.ndarray, sample_rate: int, fmt: str) -> Encoded:
    """Encode mono float32 ``samples`` as ``fmt`` (one of :data:`FORMATS`)."""
    fmt = (fmt or "").strip().lower()
    mime = mime_type(fmt, sample_rate)  # rejects unknown formats first
    samples = validate_audio(samples, sample_rate)
    sample_rate = int(sample_rate)
    if fmt == "mp3":
        data = encode_mp3(samples, sample_rate)
    elif fmt == "wav":
        data = write_wav(samples, sample_rate)
    elif fmt == "opus":
        data = encode_opus(samples, sample_rate)
    else:
        data = to_pcm16(samples).tobytes()
    return Encoded(data=data, mime_type=mime, duration_s=len(samples) / sample_rate)
