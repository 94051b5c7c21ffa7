"""The /api/v1 contract's cross-cutting rules: auth, keys, errors for every kind of bad request, rate limits,
OpenAPI, and clear 503s when a downstream service is down."""
from __future__ import annotations

import time

import pytest
import requests

from .conftest import error_body, wait_for

pytestmark = pytest.mark.integration


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


# --- authentication --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"},
                                     {"X-API-Key": ""}])
def test_missing_key_is_401_with_the_seed_body(base_url, headers):
    resp = requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=10)
    assert resp.status_code == 401
    assert error_body(resp) == {"code": "UNAUTHORIZED", "error": "Authentication required"}


def test_wrong_key_is_401(base_url, app_processes):
    resp = requests.get(f"{base_url}/api/v1/credits", headers=auth("vf_not_a_real_key"), timeout=10)
    assert resp.status_code == 401 and resp.json()["code"] == "UNAUTHORIZED"


def test_x_api_key_header_is_accepted(base_url, fresh_account):
    resp = requests.get(f"{base_url}/api/v1/credits", headers={"X-API-Key": fresh_account.api_key}, timeout=10)
    assert resp.status_code == 200 and resp.json()["credits"] == 1000


def test_unauthenticated_request_learns_nothing_about_its_body(base_url, app_processes):
    resp = requests.post(f"{base_url}/api/v1/tts", data="{not json", timeout=10,
                         headers={"Content-Type": "application/json"})
    assert resp.status_code == 401


def test_keys_are_created_listed_shown_once_and_revoked(base_url, fresh_account):
    created = requests.post(f"{base_url}/api/v1/api-keys", headers=auth(fresh_account.api_key),
                            json={"name": "second"}, timeout=10)
    assert created.status_code == 201, created.text
    secret, key_id = created.json()["apiKey"], created.json()["key"]["id"]
    assert requests.get(f"{base_url}/api/v1/credits", headers=auth(secret), timeout=10).status_code == 200

    listed = requests.get(f"{base_url}/api/v1/api-keys", headers=auth(fresh_account.api_key), timeout=10).json()
    assert {k["id"] for k in listed["keys"]} == {fresh_account.key_id, key_id}
    assert secret not in str(listed)  # the secret is never shown again

    revoked = requests.delete(f"{base_url}/api/v1/api-keys/{key_id}", headers=auth(fresh_account.api_key),
                              timeout=10)
    assert revoked.status_code == 200
    assert requests.get(f"{base_url}/api/v1/credits", headers=auth(secret), timeout=10).status_code == 401
    again = requests.delete(f"{base_url}/api/v1/api-keys/{key_id}", headers=auth(fresh_account.api_key),
                            timeout=10)
    assert again.status_code == 404 and again.json()["code"] == "NOT_FOUND"


def test_a_tenant_cannot_revoke_or_see_another_tenants_keys(base_url, fresh_account, demo_account):
    resp = requests.delete(f"{base_url}/api/v1/api-keys/{demo_account.key_id}", headers=auth(fresh_account.api_key),
                           timeout=10)
    assert resp.status_code == 404
    listed = requests.get(f"{base_url}/api/v1/api-keys", headers=auth(fresh_account.api_key), timeout=10).json()
    assert demo_account.key_id not in {k["id"] for k in listed["keys"]}
    assert requests.get(f"{base_url}/api/v1/credits", headers=auth(demo_account.api_key), timeout=10).status_code == 200


# --- TTS validation --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,message", [
    ({"voiceId": "sys_slt"}, "text: Missing data for required field."),
    ({"text": "hi"}, "voiceId: Missing data for required field."),
    ({"text": 5, "voiceId": "sys_slt"}, "text: Not a valid string."),
    ({"text": "   ", "voiceId": "sys_slt"}, "text must not be empty"),
    ({"text": "hi", "voiceId": "sys_slt", "format": "flac"}, "format: format must be one of: mp3, wav, opus, pcm"),
    ({"text": "a" * 5001, "voiceId": "sys_slt"}, "Text exceeds maximum length of 5000 bytes"),
    ({"text": "语" * 1667, "voiceId": "sys_slt"}, "Text exceeds maximum length of 5000 bytes"),  # 5001 bytes
])
def test_tts_validation_rules(base_url, fresh_account, body, message):
    resp = requests.post(f"{base_url}/api/v1/tts", headers=auth(fresh_account.api_key), json=body, timeout=10)
    assert resp.status_code == 400
    assert error_body(resp) == {"code": "INVALID_PARAMETERS", "error": message}


def test_exactly_5000_bytes_is_accepted_and_priced_by_bytes(base_url, demo_account):
    text = "语" * 1666 + "ab"  # 4998 + 2 bytes
    resp = requests.post(f"{base_url}/api/v1/tts", headers=auth(demo_account.api_key),
                         json={"text": text, "voiceId": "sys_slt"}, timeout=30)
    assert resp.status_code in (200, 202), resp.text
    assert resp.json()["creditsUsed"] == 5000


def test_unknown_voice_is_404(base_url, fresh_account):
    resp = requests.post(f"{base_url}/api/v1/tts", headers=auth(fresh_account.api_key),
                         json={"text": "hi", "voiceId": "clnope"}, timeout=10)
    assert resp.status_code == 404
    assert error_body(resp) == {"code": "NOT_FOUND", "error": "Voice not found or not available"}


def test_another_tenants_speech_is_not_found(base_url, fresh_account, demo_account):
    resp = requests.post(f"{base_url}/api/v1/tts", headers=auth(demo_account.api_key),
                         json={"text": "private words", "voiceId": "sys_slt"}, timeout=30)
    speech_id = resp.json()["speechId"]
    other = requests.get(f"{base_url}/api/v1/tts/{speech_id}", headers=auth(fresh_account.api_key), timeout=10)
    assert other.status_code == 404
    assert error_body(other) == {"code": "NOT_FOUND", "error": "Speech not found or access denied"}
    assert requests.get(f"{base_url}/api/v1/tts/{speech_id}", headers=auth(demo_account.api_key),
                        timeout=10).status_code == 200


_MISSING = "text: Missing data for required field.; voiceId: Missing data for required field."


@pytest.mark.parametrize("headers,data,message", [
    ({"Content-Type": "application/json"}, "{not json", "Invalid JSON body."),
    ({"Content-Type": "text/plain"}, '{"text": "hi", "voiceId": "sys_slt"}', "Content-Type must be application/json"),
    ({"Content-Type": "application/json"}, "[1, 2]", "Invalid input type."),
    ({}, "", _MISSING),  # no body at all: what is missing, whatever the Content-Type
    ({"Content-Type": "application/json"}, "", _MISSING),
])
def test_malformed_bodies_are_400(base_url, fresh_account, headers, data, message):
    resp = requests.post(f"{base_url}/api/v1/tts", headers={**auth(fresh_account.api_key), **headers}, data=data,
                         timeout=10)
    assert resp.status_code == 400
    assert error_body(resp) == {"code": "INVALID_PARAMETERS", "error": message}


def test_unknown_route_and_wrong_method(base_url, fresh_account):
    resp = requests.get(f"{base_url}/api/v1/nothing-here", headers=auth(fresh_account.api_key), timeout=10)
    assert resp.status_code == 404 and error_body(resp) == {"code": "NOT_FOUND", "error": "Resource not found"}
    resp = requests.delete(f"{base_url}/api/v1/tts", headers=auth(fresh_account.api_key), timeout=10)
    assert resp.status_code == 405 and resp.json()["code"] == "INVALID_PARAMETERS"
    assert "POST" in resp.headers["Allow"]
    assert "X-RateLimit-Remaining" in resp.headers


@pytest.mark.parametrize("extra", [{"params": {"q": "a" * 9000}}, {"headers": {"X-Filler": "a" * 9000}}])
def test_requests_gunicorn_refuses_still_get_the_json_error_shape(base_url, fresh_account, extra):
    headers = {**auth(fresh_account.api_key), **extra.get("headers", {})}
    resp = requests.get(f"{base_url}/api/v1/voices", headers=headers, params=extra.get("params"), timeout=10)
    assert resp.status_code in (414, 431)
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json()["code"] == "INVALID_PARAMETERS"


def test_body_too_large_is_refused_without_a_500(base_url, fresh_account):
    resp = requests.post(f"{base_url}/api/v1/tts", headers={**auth(fresh_account.api_key),
                                                            "Content-Type": "application/json"},
                         data=b"x" * (22 * 1024 * 1024), timeout=30)
    assert resp.status_code == 413
    assert error_body(resp) == {"code": "INVALID_PARAMETERS", "error": "Request body too large"}


# --- rate limits ---------------------------------------------------------------------------------------------------

def test_rate_limit_headers_and_429(extra_frontdoor, fresh_account):
    from adapters import mongo
    from frontdoor import admin
    from service_config import load

    url = extra_frontdoor("frontdoor-ratelimited", RATE_LIMIT_PER_MINUTE="3")
    # A key no request has used yet: the counters live in Redis per key, shared by every front door.
    _, key = admin.issue_key(mongo.connect(load()), fresh_account.account_id)
    # Align to a fresh window so the 4 requests below fall into one window.
    if 60 - time.time() % 60 < 5:
        wait_for(lambda: 60 - time.time() % 60 > 50, 10, "a fresh rate-limit window")
    answers = [requests.get(f"{url}/api/v1/credits", headers=auth(key), timeout=10) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["X-RateLimit-Limit"] == "3" for a in answers)
    reset = int(answers[-1].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    assert answers[-1].json()["code"] == "RATE_LIMITED"
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 61
    # Another key has its own budget.
    _, other_key = admin.issue_key(mongo.connect(load()), fresh_account.account_id)
    assert requests.get(f"{url}/api/v1/credits", headers=auth(other_key), timeout=10).status_code == 200


# --- OpenAPI -------------------------------------------------------------------------------------------------------

def test_openapi_document_and_local_reference_page(base_url, app_processes):
    spec = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/tts", "/api/v1/tts/{speech_id}", "/api/v1/credits"):
        assert path in spec["paths"]
    tts = spec["paths"]["/api/v1/tts"]["post"]
    assert tts["requestBody"]["content"]["application/json"]["schema"]
    page = requests.get(f"{base_url}/api/docs", timeout=10)
    assert page.status_code == 200 and "/api/docs/assets/swagger-ui-bundle.js" in page.text
    assert "http" not in page.text.split("<script")[1].split(">")[0]  # no CDN
    assert requests.get(f"{base_url}/api/docs/assets/swagger-ui-bundle.js", timeout=10).status_code == 200
    asyncapi = requests.get(f"{base_url}/api/asyncapi.json", timeout=10).json()
    assert asyncapi["asyncapi"].startswith("2.") and "SpeechCompleted" in asyncapi["components"]["messages"]


# --- outages -------------------------------------------------------------------------------------------------------

def _dead_port() -> int:
    from .conftest import free_port

    return free_port()  # nothing listens there once the probe socket is closed


def test_kafka_down_gives_503_fast_and_reads_still_work(extra_frontdoor, fresh_account):
    url = extra_frontdoor("frontdoor-no-kafka", KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{_dead_port()}",
                          KAFKA_PUBLISH_TIMEOUT_S="2")
    assert requests.get(f"{url}/api/v1/credits", headers=auth(fresh_account.api_key), timeout=10).json()[
        "credits"] == 1000
    started = time.monotonic()
    resp = requests.post(f"{url}/api/v1/tts", headers=auth(fresh_account.api_key),
                         json={"text": "hello", "voiceId": "sys_slt"}, timeout=30)
    assert resp.status_code == 503
    assert resp.json()["code"] == "SERVICE_UNAVAILABLE" and "nothing was charged" in resp.json()["error"]
    assert resp.headers["Retry-After"]
    assert time.monotonic() - started < 10


def test_redis_down_gives_503_not_500(extra_frontdoor, fresh_account):
    url = extra_frontdoor("frontdoor-no-redis", REDIS_URL=f"redis://127.0.0.1:{_dead_port()}/0")
    resp = requests.get(f"{url}/api/v1/credits", headers=auth(fresh_account.api_key), timeout=15)
    assert resp.status_code == 503 and resp.json()["code"] == "SERVICE_UNAVAILABLE"


def test_mongo_down_gives_503_not_500(extra_frontdoor, fresh_account):
    url = extra_frontdoor("frontdoor-no-mongo", MONGO_URI=f"mongodb://127.0.0.1:{_dead_port()}/?serverSelectionTimeoutMS=1000&directConnection=true")
    resp = requests.get(f"{url}/api/v1/credits", headers=auth(fresh_account.api_key), timeout=15)
    assert resp.status_code == 503 and resp.json()["code"] == "SERVICE_UNAVAILABLE"
