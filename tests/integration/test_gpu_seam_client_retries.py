"""inference_client against a Triton server that is not there yet, or goes away and comes back mid-use.

The client retries UNAVAILABLE with exponential backoff; these tests show it really reconnects: first to a port
where nothing listens until a private Triton starts there, then across a stop and start of that server. Each test
starts (and always stops) its own Triton on free ports serving a small copy of the model repository (the
`voicekit` INFO model and `speaker_encoder`), so the stack's own server is never touched. ~15 s.
"""
from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
import pytest

from bench.private_triton import PrivateTriton, copy_model_repository, free_port
from inference_client import Audio, InferenceClient, InferenceError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    return copy_model_repository(tmp_path_factory.mktemp("retry-repo") / "models", ["speaker_encoder"])


def speech_like(seconds: float = 2.0, rate: int = 16000) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # syllable-like amplitude modulation
    samples = envelope * (0.3 * np.sin(2 * np.pi * 140 * t) + 0.15 * np.sin(2 * np.pi * 280 * t)
                          + 0.05 * np.sin(2 * np.pi * 1200 * t))
    return Audio(samples.astype(np.float32), rate)


def retries(caplog) -> int:
    return len([r for r in caplog.records if "retry" in r.getMessage() and "unavailable" in r.getMessage()])


def test_a_call_made_before_the_server_is_up_succeeds_once_it_is(repository, caplog):
    caplog.set_level(logging.WARNING, logger="inference_client.client")
    port = free_port()
    server = PrivateTriton(repository, grpc_port=port)
    client = InferenceClient(f"127.0.0.1:{port}", timeout_s=10, max_retries=8, backoff_s=0.1)

    async def scenario():
        call = asyncio.create_task(client.capabilities())  # nothing listens on the port yet
        await asyncio.sleep(0.5)
        assert not call.done()
        await asyncio.to_thread(server.start)
        try:
            return await asyncio.wait_for(call, 60)
        finally:
            await client.close()

    try:
        info = asyncio.run(scenario())
    finally:
        server.stop()
    assert "formats" in info and "voices" in info
    assert retries(caplog) >= 1


def test_the_client_survives_a_server_restart_between_and_during_calls(repository, caplog):
    caplog.set_level(logging.WARNING, logger="inference_client.client")
    port = free_port()
    server = PrivateTriton(repository, grpc_port=port)
    client = InferenceClient(f"127.0.0.1:{port}", timeout_s=10, max_retries=8, backoff_s=0.1)
    audio = speech_like()

    async def scenario():
        before = await client.embed(audio)
        await asyncio.to_thread(server.stop)  # the same channel now points at nothing
        call = asyncio.create_task(client.embed(audio))
        await asyncio.sleep(0.5)
        await asyncio.to_thread(server.start)
        after = await asyncio.wait_for(call, 60)
        return before, after

    async def main():
        try:
            return await scenario()
        finally:
            await client.close()

    server.start()
    try:
        started = time.monotonic()
        before, after = asyncio.run(main())
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert before.shape == after.shape == (256,)
    np.testing.assert_allclose(before, after, atol=1e-5)
    assert retries(caplog) >= 1
    assert elapsed < 45


def test_when_the_server_stays_away_the_error_is_retryable_and_says_so(caplog):
    caplog.set_level(logging.WARNING, logger="inference_client.client")
    client = InferenceClient(f"127.0.0.1:{free_port()}", timeout_s=5, max_retries=2, backoff_s=0.05)

    async def call():
        try:
            return await client.embed(speech_like())
        finally:
            await client.close()

    with pytest.raises(InferenceError) as error:
        asyncio.run(call())
    assert error.value.code == "unavailable" and error.value.retryable
    assert "unavailable" in error.value.reason and "speaker_encoder" in error.value.reason
    assert retries(caplog) == 2
