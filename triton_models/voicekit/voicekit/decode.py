"""Encoded audio files (WAV, MP3, WebM, Ogg) → mono float32 samples at a fixed rate, with PyAV (FFmpeg).

The container is recognised by its magic bytes first (``sniff``), and only those four container demuxers are
ever used, so FFmpeg's many other (and more exotic) demuxers never see user uploads. Decoding stops as soon as
the audio is longer than ``max_seconds``, so a long file costs no more than the limit.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .errors import VoicekitError

TARGET_RATE = 16000


@dataclass(frozen=True)
class Container:
    name: str       # wav | mp3 | webm | ogg
    demuxer: str    # FFmpeg input format
    extension: str
    mime_type: str


CONTAINERS = {
    "wav": Container("wav", "wav", "wav", "audio/wav"),
    "mp3": Container("mp3", "mp3", "mp3", "audio/mpeg"),
    "webm": Container("webm", "matroska", "webm", "audio/webm"),
    "ogg": Container("ogg", "ogg", "ogg", "audio/ogg"),
}


def _mpeg_frame_header(head: bytes, offset: int = 0) -> bool:
    """An MPEG-1/2/2.5 audio frame header (layer I–III) at ``offset``: sync, valid version, layer, rate indexes."""
    if len(head) < offset + 4:
        return False
    b1, b2, b3 = head[offset + 1], head[offset + 2], head[offset + 3]
    if head[offset] != 0xFF or (b1 & 0xE0) != 0xE0:
        return False
    version = (b1 >> 3) & 0x03
    layer = (b1 >> 1) & 0x03
    bitrate = (b2 >> 4) & 0x0F
    rate = (b2 >> 2) & 0x03
    emphasis = b3 & 0x03
    return version != 0x01 and layer != 0x00 and bitrate != 0x0F and rate != 0x03 and emphasis != 0x02


def sniff(head: bytes) -> Container | None:
    """The container of a file from its first bytes (≥ 12; 64 is plenty), or None if it is not one we accept.

    WAV: ``RIFF....WAVE``. MP3: an ``ID3`` tag or an MPEG audio frame header. WebM: the EBML magic ``1A 45 DF
    A3`` (WebM and Matroska share it). Ogg: ``OggS``.
    """
    head = bytes(head[:64])
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return CONTAINERS["wav"]
    if head[:3] == b"ID3" and len(head) >= 10 and head[3] < 0xFF and head[4] < 0xFF:
        return CONTAINERS["mp3"]
    if _mpeg_frame_header(head):
        return CONTAINERS["mp3"]
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return CONTAINERS["webm"]
    if head[:4] == b"OggS":
        return CONTAINERS["ogg"]
    return None


def _open(data, container: Container):
    import av

    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    try:
        return av.open(source, mode="r", format=container.demuxer)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VoicekitError("invalid_audio", f"the {container.name.upper()} file cannot be read: {exc}") from exc


def decode(data: bytes, *, rate: int = TARGET_RATE, max_seconds: float | None = None) -> tuple[np.ndarray, str]:
    """Decode a whole file to mono float32 at ``rate``. Returns (samples, container name).

    Raises ``VoicekitError``: ``unsupported_audio`` (not WAV/MP3/WebM/Ogg), ``invalid_audio`` (no audio track,
    undecodable), ``audio_too_long`` (more than ``max_seconds``).
    """
    import av

    container = sniff(data[:64])
    if container is None:
        raise VoicekitError("unsupported_audio", "the reference audio is not a WAV, MP3, WebM or Ogg file")
    limit = None if max_seconds is None else int(max_seconds * rate) + 1
    chunks: list[np.ndarray] = []
    total = 0
    with _open(data, container) as handle:
        if not handle.streams.audio:
            raise VoicekitError("invalid_audio", f"the {container.name.upper()} file has no audio track")
        stream = handle.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        try:
            frames = handle.decode(stream)
            for frame in frames:
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += chunk.size
                if limit is not None and total > limit:
                    raise VoicekitError("audio_too_long", f"the reference audio is longer than {max_seconds:.0f} s "
                                                          f"({max_seconds / 60:.0f} minutes), the maximum")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            if total == 0:
                raise VoicekitError("invalid_audio", f"the audio cannot be decoded: {exc}") from exc
            # A damaged tail: keep what decoded (recorders often leave truncated files).
    samples = np.concatenate(chunks).astype(np.float32, copy=False) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise VoicekitError("invalid_audio", "the file contains no decodable audio")
    if not np.isfinite(samples).all():
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0)
    return samples, container.name
