"""inference_client without a Triton server: error mapping, retries with backoff, deadlines, local validation."""
from __future__ import annotations

import asyncio
import logging
import socket
import time

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from inference_client import Audio, InferenceClient, InferenceError
from inference_client.client import error_from_exception


def server_exception(status: str, message: str) -> InferenceServerException:
    return InferenceServerException(msg=message, status=status)


@pytest.mark.parametrize("status, message, code, retryable, reason", [
    ("StatusCode.INVALID_ARGUMENT",
     "[voicekit:unknown_voice] voice 'bob' is not available; available voices: awb, slt",
     "unknown_voice", False, "voice 'bob' is not available; available voices: awb, slt"),
    ("StatusCode.INTERNAL", "[voicekit:synthesis_failed] flite exited with 1: boom",
     "synthesis_failed", False, "flite exited with 1: boom"),
    ("StatusCode.INVALID_ARGUMENT", "unexpected shape for input 'TEXT' for model 'synthesize'",
     "invalid_request", False, None),
    ("StatusCode.NOT_FOUND", "Request for unknown model: 'synthesize' is not found", "model_unavailable", False, None),
    ("StatusCode.INTERNAL", "Stub process 'synthesize_0_0' is not healthy.", "internal", False, None),
    ("StatusCode.UNAVAILABLE", "failed to connect to all addresses", "unavailable", True, None),
    ("StatusCode.DEADLINE_EXCEEDED", "Deadline Exceeded", "timeout", True, None),
])
def test_error_mapping(status, message, code, retryable, reason):
    error = error_from_exception(server_exception(status, message), "synthesize")
    assert (error.code, error.retryable, error.status) == (code, retryable, status)
    if reason is not None:
        assert error.reason == reason
    else:
        assert message in error.reason and "synthesize" in error.reason
    assert str(error) == f"{code}: {error.reason}"


def test_backoff_grows_exponentially_with_bounded_jitter_up_to_a_cap():
    from inference_client.client import MAX_BACKOFF_S

    client = InferenceClient("127.0.0.1:1", backoff_s=0.2)
    for attempt in range(8):
        ceiling = min(0.2 * 2 ** attempt, MAX_BACKOFF_S)
        delays = [client.backoff_delay(attempt) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unavailable_server_is_retried_then_reported_as_retryable(caplog):
    client = InferenceClient(f"127.0.0.1:{free_port()}", timeout_s=5, max_retries=3, backoff_s=0.05)

    async def call():
        try:
            return await client.synthesize("Hello", "slt")
        finally:
            await client.close()

    caplog.set_level(logging.WARNING, logger="inference_client.client")
    started = time.monotonic()
    with pytest.raises(InferenceError) as error:
        asyncio.run(call())
    elapsed = time.monotonic() - started
    assert error.value.code == "unavailable" and error.value.retryable
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 3
    assert 0.05 * (1 + 2 + 4) / 2 <= elapsed < 5  # backed off, but did not wait for the deadline


def test_a_server_that_never_answers_hits_the_deadline():
    with socket.socket() as silent:  # accepts connections, never speaks HTTP/2
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        client = InferenceClient(f"127.0.0.1:{silent.getsockname()[1]}", timeout_s=0.3, max_retries=1,
                                 backoff_s=0.01)

        async def call():
            try:
                return await client.synthesize("Hello", "slt")
            finally:
                await client.close()

        started = time.monotonic()
        with pytest.raises(InferenceError) as error:
            asyncio.run(call())
        elapsed = time.monotonic() - started
    assert error.value.retryable and error.value.code == "timeout"
    assert elapsed < 0.3 * 2 + 1.0


def test_is_ready_is_false_without_a_server():
    async def check():
        client = InferenceClient(f"127.0.0.1:{free_port()}", timeout_s=1)
        try:
            return await client.is_ready()
        finally:
            await client.close()

    assert asyncio.run(check()) is False


@pytest.mark.parametrize("call, code", [
    (lambda c: c.encode(Audio(np.zeros(10, np.float32), 16000), "flac"), "unsupported_format"),
    (lambda c: c.synthesize("Hello", "slt", speed=float("inf")), "invalid_speed"),
    (lambda c: c.synthesize("Hello", "slt", speed="fast"), "invalid_request"),
    (lambda c: c.synthesize(None, "slt"), "invalid_request"),
], ids=["format", "infinite-speed", "speed-not-a-number", "text-not-a-string"])
def test_obviously_bad_calls_fail_before_any_network_call(call, code):
    client = InferenceClient(f"127.0.0.1:{free_port()}", max_retries=5, backoff_s=10)  # a retry would hang the test

    with pytest.raises(InferenceError) as error:
        asyncio.run(call(client))
    assert error.value.code == code and not error.value.retryable


def test_from_settings_reads_the_triton_address(monkeypatch):
    from service_config import load

    monkeypatch.setenv("TRITON_GRPC_PORT", "18123")
    monkeypatch.setenv("INFERENCE_TIMEOUT_S", "12.5")
    client = InferenceClient.from_settings(load())
    assert client.url == "127.0.0.1:18123" and client.timeout_s == 12.5
