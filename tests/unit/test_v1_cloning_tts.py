"""The /v1 cloning-TTS use case (service_layer.cloning_tts) with the in-memory ports of test_service_layer: what it
stores, publishes and refuses; and the sync wait's deadline."""
from __future__ import annotations

import dataclasses
import io
from contextlib import contextmanager

import pytest

from service_layer import cloning_tts
from service_layer.errors import InsufficientCredits, InvalidInput, NotFound
from tests import voice_audio

from .test_service_layer import READY_VOICE, FakeBlobs, accepted, make_ports, rejected, sent, store

WAV = voice_audio.encode(voice_audio.tone(1.0, rate=16000), 16000, "wav")
MP3 = voice_audio.encode(voice_audio.tone(1.0, rate=16000), 16000, "mp3")


def request(**overrides) -> cloning_tts.CloningSpeechRequest:
    fields = {"text": "Héllo", "fmt": "wav", "language": "auto", "spoken_language": "en", "speed": 1.5,
              "duration_s": None, "async_mode": True, "reference": io.BytesIO(WAV), **overrides}
    return cloning_tts.CloningSpeechRequest(**fields)


def test_a_reference_is_stored_for_the_job_and_rides_with_it():
    ports = make_ports(accepted)
    result = cloning_tts.request_cloning_speech(ports, "acct_a", request())
    key = f"jobs/acct_a/{result.speech_id}/reference.wav"
    assert isinstance(ports.blobs, FakeBlobs) and ports.blobs.objects[key] == WAV
    assert result.credits_used == len("Héllo".encode()) == 6 and result.decided
    [(_, _, event)] = sent(ports)
    job = event.payload["job"]
    assert job["referenceKey"] == key and job["api"] == "v1" and job["language"] == "en"
    assert job["speed"] == 1.5 and job["voice"]["id"] is None and job["profile"] is None
    view = store(ports).speeches[result.speech_id]
    assert view["api"] == "v1" and view["parameters"]["voice_source"] == "audio_ref"
    assert view["parameters"]["detected_language"] == "en" and view["parameters"]["text_bytes"] == 6
    assert store(ports).voices == {}  # never kept as a voice


def test_a_custom_voice_must_be_the_callers_own_and_ready():
    ports = make_ports(accepted)
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    result = cloning_tts.request_cloning_speech(ports, "acct_a", request(reference=None, custom_voice_id="clvoice",
                                                                         duration_s=12.0))
    [(_, _, event)] = sent(ports)
    # The voice travels by id (the worker reads its stored profile), never its profile.
    assert event.payload["job"]["voice"]["id"] == "clvoice" and event.payload["job"]["profile"] is None
    assert event.payload["job"]["durationS"] == 12.0
    assert store(ports).speeches[result.speech_id]["parameters"]["custom_voice_id"] == "clvoice"
    with pytest.raises(NotFound):
        cloning_tts.request_cloning_speech(ports, "acct_b", request(reference=None, custom_voice_id="clvoice"))
    store(ports).voices["clvoice"]["status"] = "PROCESSING"
    with pytest.raises(InvalidInput, match="not ready"):
        cloning_tts.request_cloning_speech(ports, "acct_a", request(reference=None, custom_voice_id="clvoice"))


def test_refused_or_invalid_requests_leave_nothing_behind():
    ports = make_ports(lambda job_id: rejected(job_id, 3, 6))
    with pytest.raises(InsufficientCredits):
        cloning_tts.request_cloning_speech(ports, "acct_a", request())
    assert isinstance(ports.blobs, FakeBlobs) and ports.blobs.objects == {}
    fresh = make_ports(accepted)
    for bad in (request(reference=io.BytesIO(MP3)), request(custom_voice_id="clvoice"),
                request(reference=None), request(text="x" * 5001)):
        with pytest.raises(InvalidInput):
            cloning_tts.request_cloning_speech(fresh, "acct_a", bad)
    assert sent(fresh) == [] and isinstance(fresh.blobs, FakeBlobs) and fresh.blobs.objects == {}


class ClockedChanges:
    """Job change notices that never come: each wait just advances the fake clock."""

    def __init__(self, clock: list[float]):
        self.clock, self.waits = clock, 0

    @contextmanager
    def subscribe(self, job_id):
        yield self

    def wait(self, timeout_s: float) -> bool:
        self.waits += 1
        self.clock[0] += timeout_s
        return False


def test_the_sync_wait_ends_at_the_terminal_state_or_the_deadline():
    clock = [0.0]
    changes = ClockedChanges(clock)
    ports = dataclasses.replace(make_ports(accepted), job_changes=changes)
    result = cloning_tts.request_cloning_speech(ports, "acct_a", request())
    assert cloning_tts.wait_for_speech(ports, "acct_a", result.speech_id, 12.0, monotonic=lambda: clock[0]) is None
    assert clock[0] == 12.0 and changes.waits == 3  # woken by changes; re-read every RECHECK_S without one
    store(ports).speeches[result.speech_id].update(state="COMPLETED", status="COMPLETED")
    done = cloning_tts.wait_for_speech(ports, "acct_a", result.speech_id, 1.0, monotonic=lambda: clock[0])
    assert done is not None and done["status"] == "COMPLETED" and changes.waits == 3
    with pytest.raises(NotFound):
        cloning_tts.wait_for_speech(ports, "acct_b", result.speech_id, 1.0)
