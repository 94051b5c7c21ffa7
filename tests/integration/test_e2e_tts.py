"""The walking skeleton end to end: POST /api/v1/tts → Kafka → ledger → Triton → S3 → MongoDB → GET shows audio."""
from __future__ import annotations

import io

import pytest
import requests
import soundfile

from .conftest import error_body, wait_for

pytestmark = pytest.mark.integration

TEXT = "Hello, this is a test speech. The quick brown fox jumps over the lazy dog."


def _poll_until_finished(base_url, headers, speech_id, timeout_s=90):
    def finished():
        body = requests.get(f"{base_url}/api/v1/tts/{speech_id}", headers=headers, timeout=5).json()
        return body if body["speech"]["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(finished, timeout_s, f"speech {speech_id} to finish", interval_s=0.25)


def test_tts_request_travels_the_whole_pipeline(base_url, demo_account):
    headers = {"Authorization": f"Bearer {demo_account.api_key}", "Content-Type": "application/json"}
    before = requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"]

    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers,
                         json={"text": TEXT, "voiceId": "sys_slt", "format": "wav"}, timeout=30)
    assert resp.status_code == 200, resp.text
    accepted = resp.json()
    price = len(TEXT.encode("utf-8"))
    assert accepted["success"] is True
    assert accepted["creditsUsed"] == price
    assert accepted["speech"]["status"] == "PROCESSING"
    assert accepted["speech"]["text"] == TEXT
    assert accepted["speech"]["format"] == "wav"
    assert accepted["speech"]["createdAt"].endswith("Z")
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in resp.headers

    done = _poll_until_finished(base_url, headers, accepted["speechId"])
    speech = done["speech"]
    assert speech["status"] == "COMPLETED", speech
    assert speech["id"] == accepted["speechId"]
    assert speech["voice"]["id"] == "sys_slt" and speech["voice"]["type"] == "SYSTEM"
    assert speech["audioUrl"]

    audio = requests.get(speech["audioUrl"], timeout=10)
    assert audio.status_code == 200
    samples, rate = soundfile.read(io.BytesIO(audio.content))
    duration = len(samples) / rate
    words = len(TEXT.split())
    # Plausible speech: between ~0.15 s and ~0.8 s per word, and the API reports what the file holds.
    assert 0.15 * words < duration < 0.8 * words, duration
    assert abs(speech["duration"] - duration) < 0.1
    assert float(abs(samples).max()) > 0.05, "audio is silent"

    # The reservation is captured: the balance drops by exactly the price.
    wait_for(
        lambda: requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"]
        == before - price,
        30, "the captured price to show in the balance",
    )


@pytest.mark.parametrize("fmt", ["mp3", "opus", "pcm"])
def test_other_formats_are_stored_and_served(base_url, demo_account, fmt):
    headers = {"Authorization": f"Bearer {demo_account.api_key}"}
    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers,
                         json={"text": "Testing one two three.", "voiceId": "sys_awb", "format": fmt}, timeout=30)
    assert resp.status_code == 200, resp.text
    speech = _poll_until_finished(base_url, headers, resp.json()["speechId"])["speech"]
    assert speech["status"] == "COMPLETED", speech
    audio = requests.get(speech["audioUrl"], timeout=10)
    assert audio.status_code == 200 and len(audio.content) > 1000
    assert 0.5 < speech["duration"] < 5


def test_missing_api_key_is_unauthorized(base_url, app_processes):
    resp = requests.post(f"{base_url}/api/v1/tts", json={"text": "hi", "voiceId": "sys_slt"}, timeout=10)
    assert resp.status_code == 401
    assert error_body(resp) == {"code": "UNAUTHORIZED", "error": "Authentication required"}
    assert "X-RateLimit-Limit" in resp.headers


def test_insufficient_credits_is_refused_with_balance(base_url, app_processes):
    from frontdoor import admin

    poor = admin.create_account_with_key(name="poor", credits=10)
    headers = {"Authorization": f"Bearer {poor.api_key}"}
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"] == 10,
             60, "the small grant to show")
    text = "This sentence costs more than ten credits."
    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers, json={"text": text, "voiceId": "sys_slt"},
                         timeout=30)
    assert resp.status_code == 429, resp.text
    assert error_body(resp) == {"error": "Insufficient credits", "code": "USAGE_LIMIT_EXCEEDED", "credits": 10,
                           "needCredits": len(text.encode())}
