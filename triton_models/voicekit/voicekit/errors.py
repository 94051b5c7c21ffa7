"""The error a model reports to its caller.

A :class:`VoicekitError` carries a stable machine-readable ``code`` and a human ``message``. On the wire (the
message of a Triton error) it is written as ``[voicekit:<code>] <message>`` so a client can recover both, whatever
Triton puts around it.
"""
from __future__ import annotations


class VoicekitError(Exception):
    """A request a model cannot serve.

    ``invalid_input`` tells whether the caller sent something wrong (retrying the same request cannot help) or
    the model itself failed.
    """

    def __init__(self, code: str, message: str, *, invalid_input: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.invalid_input = invalid_input

    def wire_message(self) -> str:
        return f"[voicekit:{self.code}] {self.message}"

