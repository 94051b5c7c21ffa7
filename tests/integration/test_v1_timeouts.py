"""/v1 limits that need their own front door settings: the sync wait (V1_SYNC_TIMEOUT_S) and the lifetime of
presigned result URLs (S3_PRESIGN_TTL_S), which S3 itself must enforce."""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests import voice_audio

from . import v1_client as v1
from .conftest import wait_for

pytestmark = pytest.mark.integration

TEXT = "Waiting for this sentence should take longer than the sync limit."


@pytest.fixture(scope="module")
def account(base_url, app_processes):
    return v1.new_account(base_url, "timeouts-v1", 10_000)


@pytest.fixture(scope="module")
def reference_wav():
    return voice_audio.flite_wav(voice="rms")


def test_sync_mode_past_its_limit_answers_timeout_waiting_with_a_pollable_job_id(
        base_url, extra_frontdoor, account, reference_wav):
    impatient = extra_frontdoor("frontdoor-sync-limit", V1_SYNC_TIMEOUT_S="0.2")
    started = time.monotonic()
    resp = v1.tts(impatient, account, {"text": TEXT, "async_mode": "false"}, audio_ref=reference_wav)
    waited = time.monotonic() - started
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["mode"] == "sync" and body["status"] == "timeout_waiting" and body["job_id"]
    assert "download_url" not in body
    assert waited < 20  # it did not wait for the audio (enrolment + synthesis take longer than 0.2 s)
    # The same job id is polled to completion, on either front door.
    done = v1.wait_job(base_url, account, body["job_id"])
    assert done["status"] == "completed", done
    assert v1.result(impatient, account, body["job_id"]).status_code == 200


def test_presigned_result_urls_expire_and_s3_refuses_them(base_url, extra_frontdoor, account, reference_wav):
    short_lived = extra_frontdoor("frontdoor-short-urls", S3_PRESIGN_TTL_S="3")
    resp = v1.tts(short_lived, account, {"text": "Short lived.", "async_mode": "false"}, audio_ref=reference_wav)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["expires_in"] == 3
    assert parse_qs(urlsplit(body["download_url"]).query)["X-Amz-Expires"] == ["3"]
    first = requests.get(body["download_url"], timeout=10)
    assert first.status_code == 200 and first.content[:4] == b"RIFF"

    def refused():
        answer = requests.get(body["download_url"], timeout=10)
        return (answer.content or b"(empty)") if answer.status_code == 403 else None  # a 403 Response is falsy

    # Served at first (above), refused once its lifetime has passed, and S3 says why.
    expired = wait_for(refused, 30, "S3 to refuse the expired URL", interval_s=0.5)
    assert b"expired" in expired.lower(), expired
    # /result presigns afresh: a new URL works again.
    fresh = v1.result(short_lived, account, body["job_id"])
    assert fresh.status_code == 200 and fresh.json()["download_url"] != body["download_url"]
    assert requests.get(fresh.json()["download_url"], timeout=10).status_code == 200
