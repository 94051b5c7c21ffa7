"""Async gRPC client for the Triton models (``synthesize``, ``encode_audio``, ``voicekit``, ``enroll``).

Tensor contract (see ``triton_models/README.md``):

- ``synthesize``: TEXT (BYTES [1]), VOICE (BYTES [1]), SPEED (FP32 [1]) → AUDIO (FP32 [-1]), SAMPLE_RATE (INT32 [1])
- ``encode_audio``: AUDIO (FP32 [-1]), SAMPLE_RATE (INT32 [1]), FORMAT (BYTES [1])
  → DATA (BYTES [1]), MIME_TYPE (BYTES [1]), DURATION (FP32 [1])
- ``voicekit``: no inputs → INFO (BYTES [1], JSON)
- ``enroll``: AUDIO (BYTES [1], a WAV/MP3/WebM/Ogg file) → PROFILE (BYTES [1], JSON), ENGINE_VOICE (BYTES [1]),
  DURATION (FP32 [1])
- ``synthesize`` also takes an optional PROFILE (BYTES [1], JSON from ``enroll``), DURATION (FP32 [1], seconds),
  LANGUAGE (BYTES [1]) and STYLE (FP32 [510, 256], a Kokoro style pack): see ``synthesize_with_profile``

Every call has a deadline (``timeout_s``; ``enroll`` at least ``ENROLL_TIMEOUT_S``: an enrolment tunes the voice
conversion for up to ~20 s and the ``enroll`` model runs one at a time, so a few queued ones take minutes).
UNAVAILABLE and DEADLINE_EXCEEDED are retried ``max_retries`` times with exponential backoff and jitter; everything
else fails at once. The channel's own reconnect backoff is capped at 1 s (gRPC's default grows to minutes: a
restarted Triton stayed unreachable for 5-6 s after it was ready), so a retry reaches a server that came back.
Failures are :class:`InferenceError`; a model's own errors arrive as ``[voicekit:<code>] <message>`` and keep that
code and message.

The gRPC channel belongs to the event loop that first uses it; a client used from another loop opens a new one.

Batching models: a model served with ``max_batch_size`` > 0 (dynamic batching; e.g. ``speaker_encoder``) takes a
leading batch dimension. The client asks each model's configuration once (per channel) and then sends its tensors
with shape ``[1, ...]`` where the model batches and as they are where it does not, so a model repository can turn
batching on or off (or be replaced by another implementation of the same tensors) without a client change.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.utils import InferenceServerException

log = logging.getLogger(__name__)

SYNTHESIZE_MODEL = "synthesize"
ENCODE_MODEL = "encode_audio"
INFO_MODEL = "voicekit"
ENROLL_MODEL = "enroll"
ENROLL_TIMEOUT_S = 300.0  # the least deadline of an enroll call (see the module docstring)
MAX_ENROLL_BYTES = 32 * 1024 * 1024  # the API accepts 20 MB; a little headroom, never unbounded
FORMATS = ("mp3", "wav", "opus", "pcm")

_WIRE = re.compile(r"\[voicekit:(?P<code>[a-z_]+)\]\s*(?P<reason>.*)", re.DOTALL)
_RETRYABLE = {"StatusCode.UNAVAILABLE": "unavailable", "StatusCode.DEADLINE_EXCEEDED": "timeout"}


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate`` Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate if self.sample_rate else 0.0


@dataclass(frozen=True)
class EncodedAudio:
    data: bytes
    mime_type: str
    duration_s: float
    format: str


@dataclass(frozen=True)
class VoiceProfile:
    """What the ``enroll`` model made of a reference recording: the profile document (``profile``, also as the
    JSON text ``profile_json`` the ``synthesize`` model takes), the system voice closest to it by pitch
    (``engine_voice``) and the seconds of audio decoded (``duration_s``)."""

    profile: dict
    profile_json: str
    engine_voice: str
    duration_s: float


class InferenceError(Exception):
    """Inference failed. ``code`` is stable and machine-readable (``unknown_voice``, ``invalid_text``, ``timeout``,
    ``unavailable``...), ``reason`` is for people (a job's failure reason), ``retryable`` says whether the same
    request may succeed later (the server was down or slow) or never will (bad input, model failure)."""

    def __init__(self, reason: str, *, code: str = "inference_failed", retryable: bool = False,
                 status: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable
        self.status = status

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


def error_from_exception(exc: InferenceServerException, model: str) -> InferenceError:
    """Map tritonclient's exception (``status()`` is the gRPC code as ``"StatusCode.NAME"``) to an InferenceError."""
    status = exc.status()
    message = (exc.message() or str(exc)).strip()
    if status in _RETRYABLE:
        what = "did not answer in time" if status == "StatusCode.DEADLINE_EXCEEDED" else "is unavailable"
        return InferenceError(f"the inference server {what} ({model}): {message}", code=_RETRYABLE[status],
                              retryable=True, status=status)
    wire = _WIRE.search(message)
    if wire:
        return InferenceError(wire.group("reason").strip(), code=wire.group("code"), retryable=False, status=status)
    if status == "StatusCode.INVALID_ARGUMENT":
        return InferenceError(f"{model} rejected the request: {message}", code="invalid_request", status=status)
    if status == "StatusCode.NOT_FOUND":
        return InferenceError(f"model {model} is not loaded on the inference server: {message}",
                              code="model_unavailable", status=status)
    return InferenceError(f"{model} failed: {message}", code="internal", status=status)


# gRPC waits between reconnection attempts to an unreachable server with exponential backoff (1 s, 1.6x, up to
# 120 s), and calls fail at once meanwhile: a Triton restarted after a few seconds' outage stayed unreachable for
# another 5-6 s (measured). Capped at 1 s, a retry reaches a server within about a second of its return.
MAX_RECONNECT_BACKOFF_MS = 1000


def channel_options() -> list[tuple[str, int]]:
    """tritonclient's default channel arguments (message size limits, keepalive) + a short reconnect backoff.

    Not ``grpc.min_reconnect_backoff_ms``: gRPC also uses it as the connection attempt's timeout (20 s), and a short
    one turns a slow handshake (a busy server) into UNAVAILABLE instead of the call's own deadline."""
    keepalive = grpcclient.KeepAliveOptions()
    return [
        ("grpc.max_send_message_length", grpcclient.MAX_GRPC_MESSAGE_SIZE),
        ("grpc.max_receive_message_length", grpcclient.MAX_GRPC_MESSAGE_SIZE),
        ("grpc.keepalive_time_ms", keepalive.keepalive_time_ms),
        ("grpc.keepalive_timeout_ms", keepalive.keepalive_timeout_ms),
        ("grpc.keepalive_permit_without_calls", keepalive.keepalive_permit_without_calls),
        ("grpc.http2.max_pings_without_data", keepalive.http2_max_pings_without_data),
        ("grpc.initial_reconnect_backoff_ms", min(200, MAX_RECONNECT_BACKOFF_MS)),
        ("grpc.max_reconnect_backoff_ms", MAX_RECONNECT_BACKOFF_MS),
    ]


def _bytes_input(name: str, value: str | bytes) -> grpcclient.InferInput:
    data = value.encode("utf-8") if isinstance(value, str) else value
    tensor = grpcclient.InferInput(name, [1], "BYTES")
    tensor.set_data_from_numpy(np.array([data], dtype=np.object_))
    return tensor


def _array_input(name: str, array: np.ndarray, datatype: str) -> grpcclient.InferInput:
    tensor = grpcclient.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _output(result: Any, name: str, model: str) -> np.ndarray:
    array = result.as_numpy(name)
    if array is None:  # e.g. numpy 2 in the models' environment makes Triton 2.51 drop outputs silently
        raise InferenceError(f"{model} returned no {name} output", code="internal", status=None)
    return array


def _scalar_bytes(array: np.ndarray) -> bytes:
    value = array.reshape(-1)[0]
    return bytes(value) if isinstance(value, (bytes, bytearray)) else str(value).encode("utf-8")


MAX_BACKOFF_S = 2.0


def _checked_speech_request(text, voice, speed) -> float:
    """Refuse a malformed synthesis request before it travels; returns ``speed`` as a float."""
    if not isinstance(text, str) or not isinstance(voice, str):
        raise InferenceError("text and voice must be strings", code="invalid_request")
    try:
        speed_value = float(speed)
    except (TypeError, ValueError):
        raise InferenceError(f"speed must be a number, got {speed!r}", code="invalid_request") from None
    if not math.isfinite(speed_value):
        raise InferenceError(f"speed must be a finite number, got {speed!r}", code="invalid_speed")
    return speed_value


class InferenceClient:
    """Async client for the models; create one per process (it holds one gRPC channel) and ``close()`` it."""

    def __init__(self, url: str, timeout_s: float = 60.0, max_retries: int = 3, backoff_s: float = 0.2,
                 enroll_timeout_s: float | None = None) -> None:
        self.url = url
        self.timeout_s = float(timeout_s)
        self.enroll_timeout_s = float(enroll_timeout_s) if enroll_timeout_s is not None else max(self.timeout_s,
                                                                                                 ENROLL_TIMEOUT_S)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = float(backoff_s)
        self._client: grpcclient.InferenceServerClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batching: dict[str, bool] = {}  # model -> takes a leading batch dimension (max_batch_size > 0)

    @classmethod
    def from_settings(cls, settings) -> "InferenceClient":
        return cls(settings.triton_grpc_url, timeout_s=settings.inference_timeout_s,
                   max_retries=settings.inference_max_retries)

    async def __aenter__(self) -> "InferenceClient":
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # -- public API ------------------------------------------------------------------------------------------------

    async def synthesize(self, text: str, voice: str, speed: float = 1.0, language: str | None = None) -> Audio:
        """Speak ``text`` with the system ``voice`` at ``speed`` (1.0 normal; tempo only, pitch kept), in
        ``language`` (a code of :mod:`inference_client.languages`; None = the voice's own language)."""
        speed_value = _checked_speech_request(text, voice, speed)
        inputs = [_bytes_input("TEXT", text), _bytes_input("VOICE", voice),
                  _array_input("SPEED", np.array([speed_value], dtype=np.float32), "FP32")]
        if language:
            inputs.append(_bytes_input("LANGUAGE", str(language)))
        result = await self._infer(SYNTHESIZE_MODEL, inputs, ["AUDIO", "SAMPLE_RATE"])
        samples = _output(result, "AUDIO", SYNTHESIZE_MODEL).astype(np.float32, copy=False).reshape(-1)
        rate = int(_output(result, "SAMPLE_RATE", SYNTHESIZE_MODEL).reshape(-1)[0])
        return Audio(samples=samples, sample_rate=rate)

    async def encode(self, audio: Audio, fmt: str) -> EncodedAudio:
        """Encode ``audio`` as ``fmt`` (one of :data:`FORMATS`)."""
        fmt = (fmt or "").strip().lower()
        if fmt not in FORMATS:
            raise InferenceError(f"format {fmt!r} is not supported; choose one of {', '.join(FORMATS)}",
                                 code="unsupported_format")
        samples = np.ascontiguousarray(np.asarray(audio.samples, dtype=np.float32).reshape(-1))
        result = await self._infer(
            ENCODE_MODEL,
            [_array_input("AUDIO", samples, "FP32"),
             _array_input("SAMPLE_RATE", np.array([audio.sample_rate], dtype=np.int32), "INT32"),
             _bytes_input("FORMAT", fmt)],
            ["DATA", "MIME_TYPE", "DURATION"],
        )
        return EncodedAudio(
            data=_scalar_bytes(_output(result, "DATA", ENCODE_MODEL)),
            mime_type=_scalar_bytes(_output(result, "MIME_TYPE", ENCODE_MODEL)).decode("utf-8"),
            duration_s=float(_output(result, "DURATION", ENCODE_MODEL).reshape(-1)[0]),
            format=fmt,
        )

    async def embed(self, audio: Audio) -> np.ndarray:
        """Speaker embedding of ``audio`` (speech, any rate 8-192 kHz, <= 600 s): 256 float32 values, L2-normalised
        (GE2E d-vector, model ``speaker_encoder``). Compare two with the dot product (cosine similarity)."""
        samples = np.ascontiguousarray(np.asarray(audio.samples, dtype=np.float32).reshape(-1))
        result = await self._infer(
            "speaker_encoder",
            [_array_input("AUDIO", samples, "FP32"),
             _array_input("SAMPLE_RATE", np.array([audio.sample_rate], dtype=np.int32), "INT32")],
            ["EMBEDDING"],
        )
        return _output(result, "EMBEDDING", "speaker_encoder").astype(np.float32, copy=False).reshape(-1)

    async def enroll(self, audio_bytes: bytes) -> VoiceProfile:
        """Make a voice profile from a reference recording's bytes (WAV, MP3, WebM or Ogg).

        Unusable audio (too short or long, silent, clipped, no voice, not audio) is a non-retryable
        :class:`InferenceError` whose ``reason`` is written for the voice's owner.
        """
        if not isinstance(audio_bytes, (bytes, bytearray, memoryview)):
            raise InferenceError("audio must be bytes", code="invalid_request")
        data = bytes(audio_bytes)
        if not data:
            raise InferenceError("the reference audio is empty", code="invalid_audio")
        if len(data) > MAX_ENROLL_BYTES:
            raise InferenceError(f"the reference audio is larger than {MAX_ENROLL_BYTES // (1024 * 1024)} MB",
                                 code="invalid_audio")
        result = await self._infer(ENROLL_MODEL, [_bytes_input("AUDIO", data)],
                                   ["PROFILE", "ENGINE_VOICE", "DURATION"], timeout_s=self.enroll_timeout_s)
        profile_json = _scalar_bytes(_output(result, "PROFILE", ENROLL_MODEL)).decode("utf-8")
        try:
            profile = json.loads(profile_json)
        except ValueError as exc:
            raise InferenceError(f"{ENROLL_MODEL} returned a profile that is not JSON: {exc}", code="internal") from exc
        return VoiceProfile(
            profile=profile,
            profile_json=profile_json,
            engine_voice=_scalar_bytes(_output(result, "ENGINE_VOICE", ENROLL_MODEL)).decode("utf-8"),
            duration_s=float(_output(result, "DURATION", ENROLL_MODEL).reshape(-1)[0]),
        )

    async def synthesize_with_profile(self, text: str, voice: str, profile: dict | str | None,
                                      speed: float = 1.0, duration_s: float | None = None,
                                      language: str | None = None, style: np.ndarray | None = None) -> Audio:
        """Like :meth:`synthesize`, speaking with a cloned voice's ``profile`` (the document from :meth:`enroll`,
        or its JSON text): a version-2 profile is spoken by its own base voice (``profile["engineVoice"]``)
        converted toward the reference; ``voice`` must still name a system voice. ``duration_s`` (optional): the
        total length wanted, in seconds (the tempo changes, the pitch does not; at most 4x the natural length
        either way, else ``invalid_duration``). No profile (None, {} or "") and no duration is exactly
        :meth:`synthesize`. ``language``: as in :meth:`synthesize`. ``style``: a Kokoro style pack (float32
        [510, 256] or [256]) that speaks instead of the Kokoro ``voice``'s own (a cloned voice's, resolved by the
        caller from where the voice stores it; it travels to Triton only, never through Kafka)."""
        if not profile and not duration_s and style is None:
            return await self.synthesize(text, voice, speed, language)
        speed_value = _checked_speech_request(text, voice, speed)
        if not profile:
            profile_json = ""
        elif isinstance(profile, dict):
            profile_json = json.dumps(profile, sort_keys=True, separators=(",", ":"))
        elif isinstance(profile, str):
            profile_json = profile
        else:
            raise InferenceError("profile must be a dict or a JSON string", code="invalid_request")
        inputs = [_bytes_input("TEXT", text), _bytes_input("VOICE", voice),
                  _array_input("SPEED", np.array([speed_value], dtype=np.float32), "FP32")]
        if profile_json:
            inputs.append(_bytes_input("PROFILE", profile_json))
        if duration_s:
            try:
                duration_value = float(duration_s)
            except (TypeError, ValueError):
                raise InferenceError(f"duration must be a number, got {duration_s!r}",
                                     code="invalid_request") from None
            if not math.isfinite(duration_value) or duration_value <= 0:
                raise InferenceError(f"duration must be a positive number of seconds, got {duration_s!r}",
                                     code="invalid_duration")
            inputs.append(_array_input("DURATION", np.array([duration_value], dtype=np.float32), "FP32"))
        if language:
            inputs.append(_bytes_input("LANGUAGE", str(language)))
        if style is not None:
            pack = np.asarray(style, dtype=np.float32)
            if pack.size == 0 or pack.size % 256:
                raise InferenceError(f"style must hold rows of 256 values, got {pack.size}", code="invalid_style")
            pack = np.ascontiguousarray(pack.reshape(-1, 256))
            inputs.append(_array_input("STYLE", pack, "FP32"))
        result = await self._infer(SYNTHESIZE_MODEL, inputs, ["AUDIO", "SAMPLE_RATE"])
        samples = _output(result, "AUDIO", SYNTHESIZE_MODEL).astype(np.float32, copy=False).reshape(-1)
        rate = int(_output(result, "SAMPLE_RATE", SYNTHESIZE_MODEL).reshape(-1)[0])
        return Audio(samples=samples, sample_rate=rate)

    async def capabilities(self) -> dict:
        """What the models offer: installed voices (name, sample rate...), formats and MIME types, limits."""
        result = await self._infer(INFO_MODEL, [], ["INFO"])
        return json.loads(_scalar_bytes(_output(result, "INFO", INFO_MODEL)))

    async def is_ready(self) -> bool:
        """True when the server and the synthesize and encode_audio models are ready; never raises."""
        timeout = min(self.timeout_s, 5.0)
        try:
            client = self._grpc()
            if not await client.is_server_ready(client_timeout=timeout):
                return False
            for model in (SYNTHESIZE_MODEL, ENCODE_MODEL):
                if not await client.is_model_ready(model, client_timeout=timeout):
                    return False
            return True
        except InferenceServerException as exc:
            log.debug("triton at %s is not ready: %s", self.url, exc)
            return False

    async def close(self) -> None:
        client, self._client, self._loop = self._client, None, None
        self._batching.clear()
        if client is not None:
            await client.close()

    # -- internals -------------------------------------------------------------------------------------------------

    def _grpc(self) -> grpcclient.InferenceServerClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # A channel cannot move between event loops; one left on a finished loop is dropped with it.
            self._client = grpcclient.InferenceServerClient(self.url, channel_args=channel_options())
            self._loop = loop
            self._batching.clear()  # a new channel may reach a restarted server with other model configs
        return self._client

    def backoff_delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based): exponential, with jitter in [50 %, 100 %]."""
        # Capped, so a longer retry budget spreads over a Triton restart instead of sleeping for minutes.
        return min(self.backoff_s * (2 ** attempt), MAX_BACKOFF_S) * random.uniform(0.5, 1.0)

    async def _takes_batch_dimension(self, model: str) -> bool:
        """Whether ``model`` is served with ``max_batch_size`` > 0 (asked once per channel, then remembered)."""
        known = self._batching.get(model)
        if known is None:
            config = await self._grpc().get_model_config(model, as_json=True, client_timeout=self.timeout_s)
            config = config.get("config", config) if isinstance(config, dict) else {}
            known = self._batching[model] = int(config.get("max_batch_size", 0) or 0) > 0
        return known

    async def _infer(self, model: str, inputs: Sequence[grpcclient.InferInput], outputs: Sequence[str],
                     timeout_s: float | None = None):
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        requested = [grpcclient.InferRequestedOutput(name) for name in outputs]
        shapes = [list(tensor.shape()) for tensor in inputs]  # as built: without a batch dimension
        attempt = 0
        refreshed = False
        while True:
            try:
                batch = [1] if inputs and await self._takes_batch_dimension(model) else []
                for tensor, shape in zip(inputs, shapes, strict=True):
                    tensor.set_shape(batch + shape)
                return await self._grpc().infer(model, list(inputs), outputs=requested, client_timeout=timeout_s)
            except InferenceServerException as exc:
                error = error_from_exception(exc, model)
                if (error.status == "StatusCode.INVALID_ARGUMENT" and "shape" in str(exc) and not _WIRE.search(
                        str(exc)) and model in self._batching and not refreshed):
                    # The shapes were refused: the server may have been reconfigured (batching toggled) since we
                    # asked. Ask again, once.
                    log.info("%s: %s; re-reading the model's configuration", model, error)
                    self._batching.pop(model, None)
                    refreshed = True
                    continue
                if not error.retryable or attempt >= self.max_retries:
                    raise error from exc
                delay = self.backoff_delay(attempt)
                log.warning("%s: %s; retry %d/%d in %.2f s", model, error, attempt + 1, self.max_retries, delay)
                attempt += 1
                await asyncio.sleep(delay)
