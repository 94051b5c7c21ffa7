"""Enrolments (clones, /v1 audio_ref jobs) run in a lane of their own: a burst of them, each holding Triton's one
enroll instance for a while, does not hold up speech in a system voice (streams/orchestrator.py, the lanes)."""
from __future__ import annotations

import pytest
import requests

from tests import voice_audio

from . import v1_client as v1
from .test_voices import wait_speech

pytestmark = pytest.mark.integration

# One more than the speech lane's slots in a worker (the orchestrator's concurrency, 4): with one lane for every
# job, these would take all of them.
BURST = 5


def test_speech_is_not_held_up_by_a_burst_of_enrolments(base_url, app_processes):
    account = v1.new_account(base_url, "enrol-burst", 50_000)
    enrolling = []
    for take in range(BURST):   # distinct recordings: none reuses the voice enrolled from another
        reference = voice_audio.flite_wav(text=f"{voice_audio.PARAGRAPH} Take {take + 1}.", voice="awb")
        resp = v1.tts(base_url, account, {"text": "Hello there.", "async_mode": "true"}, audio_ref=reference)
        assert resp.status_code == 202, resp.text
        enrolling.append(resp.json()["job_id"])

    bearer = {"Authorization": f"Bearer {account['X-API-Key']}"}
    resp = requests.post(f"{base_url}/api/v1/tts", headers=bearer, timeout=30,
                         json={"text": "Speech in a system voice.", "voiceId": "sys_slt"})
    assert resp.status_code in (200, 202), resp.text
    speech = wait_speech(base_url, bearer, resp.json()["speechId"], timeout_s=120)
    assert speech["status"] == "COMPLETED", speech
    # Each enrolment takes the whole enrolment budget; the speech job, queued after all of them, is done first.
    states = [v1.job(base_url, account, job_id).json()["status"] for job_id in enrolling]
    assert "completed" not in states and "failed" not in states, states

    for job_id in enrolling:   # they all end, none lost behind another
        assert v1.wait_job(base_url, account, job_id, timeout_s=600)["status"] == "completed"
