"""Audio uploads: a size-capped multipart parser (checking the audio itself is ``service_layer.audio``).

The front door never holds an upload in memory: werkzeug streams each file part into a spooled temporary file
(memory up to 1 MiB, then disk) and :class:`CappedFormDataParser` stops the parse as soon as a part passes the
limit, so a 25 MB upload costs 20 MB of disk at most and the rest of the body is never stored.
"""
from __future__ import annotations

import tempfile
from typing import IO

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from schemas.limits import MAX_VOICE_FILE_BYTES

# File type, size and duration checks are the service layer's; re-exported for the front door's callers.
from service_layer.audio import AUDIO_TYPES, AudioType, file_size, probe_duration, sniff_audio  # noqa: F401

SPOOL_MEMORY_BYTES = 1024 * 1024
# The whole multipart body may exceed the file limit by the form's other fields and the part headers.
MAX_BODY_BYTES = MAX_VOICE_FILE_BYTES + 1024 * 1024


class FileTooLarge(RequestEntityTooLarge):
    """A file part passed the upload limit (raised while the body is being read)."""


class CappedSpool(tempfile.SpooledTemporaryFile):
    """A spooled temporary file that refuses to grow past ``limit`` bytes."""

    def __init__(self, limit: int = MAX_VOICE_FILE_BYTES):
        super().__init__(max_size=SPOOL_MEMORY_BYTES, mode="w+b")
        self.limit = limit
        self.written = 0

    def write(self, data) -> int:
        self.written += len(data)
        if self.written > self.limit:
            raise FileTooLarge()
        return super().write(data)


def _capped_stream_factory(total_content_length=None, content_type=None, filename=None,
                           content_length=None) -> IO[bytes]:
    return CappedSpool()


class CappedFormDataParser(FormDataParser):
    """werkzeug's form parser, with every file part written to a :class:`CappedSpool`."""

    def __init__(self, stream_factory=None, *args, **kwargs):
        super().__init__(_capped_stream_factory, *args, **kwargs)
