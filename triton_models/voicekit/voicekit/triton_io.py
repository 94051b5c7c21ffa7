"""The little glue every Python-backend ``model.py`` here shares: read inputs, answer each request, map errors.

This is the only voicekit module that imports Triton (``triton_python_backend_utils`` exists only inside the
Python backend's stub process), so nothing else imports it.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import triton_python_backend_utils as pb_utils

from .errors import VoicekitError

Handler = Callable[[object], Sequence["pb_utils.Tensor"]]


def input_array(request, name: str) -> np.ndarray:
    tensor = pb_utils.get_input_tensor_by_name(request, name)
    if tensor is None:
        raise VoicekitError("invalid_request", f"input {name} is missing")
    return tensor.as_numpy()


def input_str(request, name: str) -> str:
    values = input_array(request, name).reshape(-1)
    if values.size != 1:
        raise VoicekitError("invalid_request", f"input {name} must hold exactly one string, got {values.size}")
    value = values[0]
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VoicekitError("invalid_request", f"input {name} is not valid UTF-8") from exc
    return str(value)


def input_scalar(request, name: str) -> float | int:
    values = input_array(request, name).reshape(-1)
    if values.size != 1:
        raise VoicekitError("invalid_request", f"input {name} must hold exactly one value, got {values.size}")
    return values[0].item()


def string_tensor(name: str, value: bytes | str) -> "pb_utils.Tensor":
    data = value.encode("utf-8") if isinstance(value, str) else value
    return pb_utils.Tensor(name, np.array([data], dtype=np.object_))


def answer(requests: Sequence[object], handler: Handler, logger=None) -> list["pb_utils.InferenceResponse"]:
    """One response per request: ``handler``'s output tensors, or a Triton error.

    A :class:`VoicekitError` becomes ``INVALID_ARG`` (the caller's mistake) or ``INTERNAL``, with the message
    ``[voicekit:<code>] <message>``; anything else is logged and becomes ``INTERNAL`` ``[voicekit:internal]``.
    """
    responses = []
    for request in requests:
        try:
            responses.append(pb_utils.InferenceResponse(output_tensors=list(handler(request))))
        except VoicekitError as exc:
            code = pb_utils.TritonError.INVALID_ARG if exc.invalid_input else pb_utils.TritonError.INTERNAL
            responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(exc.wire_message(), code)))
        except Exception as exc:  # a bug or an environment problem: never let it take the other requests down
            if logger is not None:
                logger.log_error(f"request failed: {exc!r}")
            wire = VoicekitError("internal", f"{type(exc).__name__}: {exc}", invalid_input=False).wire_message()
            responses.append(pb_utils.InferenceResponse(
                error=pb_utils.TritonError(wire, pb_utils.TritonError.INTERNAL)))
    return responses
