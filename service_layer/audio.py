"""Reference recordings: file type by content (magic bytes), size and duration from the container's headers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import IO


@dataclass(frozen=True)
class AudioType:
    name: str          # wav | mp3 | webm | ogg
    demuxer: str       # FFmpeg's input format for it
    extension: str
    mime_type: str


AUDIO_TYPES = {
    "wav": AudioType("wav", "wav", "wav", "audio/wav"),
    "mp3": AudioType("mp3", "mp3", "mp3", "audio/mpeg"),
    "webm": AudioType("webm", "matroska", "webm", "audio/webm"),
    "ogg": AudioType("ogg", "ogg", "ogg", "audio/ogg"),
}


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG-1/2/2.5 audio frame header at the start: 11 sync bits, then valid version, layer and indexes."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0x03, (head[1] >> 1) & 0x03
    bitrate, rate, emphasis = (head[2] >> 4) & 0x0F, (head[2] >> 2) & 0x03, head[3] & 0x03
    return version != 0x01 and layer != 0x00 and bitrate != 0x0F and rate != 0x03 and emphasis != 0x02


def sniff_audio(head: bytes) -> AudioType | None:
    """The audio file type from its first bytes, or None: ``RIFF....WAVE`` (WAV), ``ID3`` or an MPEG audio frame
    (MP3), EBML ``1A 45 DF A3`` (WebM), ``OggS`` (Ogg). The file name and the part's Content-Type are ignored."""
    head = bytes(head[:64])
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return AUDIO_TYPES["wav"]
    if len(head) >= 10 and head[:3] == b"ID3" and head[3] < 0xFF and head[4] < 0xFF:
        return AUDIO_TYPES["mp3"]
    if _mpeg_audio_frame(head):
        return AUDIO_TYPES["mp3"]
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return AUDIO_TYPES["webm"]
    if head[:4] == b"OggS":
        return AUDIO_TYPES["ogg"]
    return None


def file_size(stream: IO[bytes]) -> int:
    position = stream.tell()
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(position)
    return size


def probe_duration(stream: IO[bytes], audio_type: AudioType) -> float | None:
    """Seconds of audio, from the container's headers (no decoding); when the container does not say (WebM from
    a browser's MediaRecorder, for one) from the last packet's timestamp. None when there is no readable audio
    track. The stream is left at position 0."""
    import av  # imported on use: only clone requests need FFmpeg

    stream.seek(0)
    try:
        with av.open(stream, mode="r", format=audio_type.demuxer) as container:
            if not container.streams.audio:
                return None
            audio = container.streams.audio[0]
            if audio.codec_context is None or not audio.codec_context.name:
                return None
            if audio.duration and audio.time_base:
                return float(audio.duration * audio.time_base)
            if container.duration and container.duration > 0:
                return float(container.duration / av.time_base)
            end = 0.0
            for packet in container.demux(audio):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            return end if end > 0 else None
    except (av.error.FFmpegError, OSError, ValueError, EOFError):
        return None
    finally:
        stream.seek(0)
