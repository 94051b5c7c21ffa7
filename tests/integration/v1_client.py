"""Small client helpers shared by the /v1 integration tests (tests/integration/test_v1_*.py)."""
from __future__ import annotations

import requests

from .conftest import wait_for

TIMEOUT_S = 120


def new_account(base_url: str, name: str, credits: int) -> dict:
    """A fresh account with ``credits``; returns its /v1 headers (X-API-Key) once the credits show."""
    from frontdoor import admin

    issued = admin.create_account_with_key(name=name, credits=credits)
    headers = {"X-API-Key": issued.api_key}
    wait_for(lambda: balance(base_url, headers) == credits, 60, f"{name}'s {credits} credits to show")
    return headers


def balance(base_url: str, headers: dict) -> int:
    return requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=10).json()["credits"]


def tts(base_url: str, headers: dict, data: dict, audio_ref: bytes | None = None, filename: str = "ref.wav",
        timeout: float = TIMEOUT_S) -> requests.Response:
    files = {"audio_ref": (filename, audio_ref, "audio/wav")} if audio_ref is not None else None
    # requests sends multipart only with files; a dummy-free multipart body for text-only forms:
    if files is None:
        files = {key: (None, str(value)) for key, value in data.items()}
        return requests.post(f"{base_url}/v1/voice-cloning/tts", headers=headers, files=files, timeout=timeout)
    return requests.post(f"{base_url}/v1/voice-cloning/tts", headers=headers, data=data, files=files,
                         timeout=timeout)


def job(base_url: str, headers: dict, job_id: str) -> requests.Response:
    return requests.get(f"{base_url}/v1/jobs/{job_id}", headers=headers, timeout=10)


def result(base_url: str, headers: dict, job_id: str) -> requests.Response:
    return requests.get(f"{base_url}/v1/jobs/{job_id}/result", headers=headers, timeout=10)


def wait_job(base_url: str, headers: dict, job_id: str, timeout_s: float = TIMEOUT_S) -> dict:
    def ended():
        body = job(base_url, headers, job_id).json()
        return body if body["status"] in ("completed", "failed") else None

    return wait_for(ended, timeout_s, f"job {job_id} to end", interval_s=0.3)


def create_voice(base_url: str, headers: dict, audio: bytes, **fields) -> requests.Response:
    return requests.post(f"{base_url}/v1/custom-voices", headers=headers, data=fields,
                         files={"audio": ("reference.wav", audio, "audio/wav")}, timeout=60)


def get_voice(base_url: str, headers: dict, voice_id: str) -> requests.Response:
    return requests.get(f"{base_url}/v1/custom-voices/{voice_id}", headers=headers, timeout=10)


def wait_voice(base_url: str, headers: dict, voice_id: str, timeout_s: float = TIMEOUT_S) -> dict:
    def ended():
        body = get_voice(base_url, headers, voice_id).json()
        return body if body["status"] in ("ready", "failed") else None

    return wait_for(ended, timeout_s, f"voice {voice_id} to be enrolled", interval_s=0.3)


def download(url: str) -> bytes:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text[:300])
    return response.content
