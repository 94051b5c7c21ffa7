"""Hostile input and abuse on the real front door, both surfaces (/api/v1 and /v1): every input gets the documented
{"code", "error"} answer, never a 500; failed authentication and concurrent uploads are bounded (frontdoor/abuse.py,
docs/api-decisions.md)."""
from __future__ import annotations

import http.client
import json
import random
import socket
import uuid
from urllib.parse import urlsplit

import pytest
import requests

from .conftest import wait_for

pytestmark = pytest.mark.integration

DEEP = "[" * 100_000 + "]" * 100_000


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_error(resp: requests.Response, status: int, code: str, *fragments: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) >= {"code", "error"} and body["code"] == code, body
    for fragment in fragments:
        assert fragment in body["error"], body
    return body


def credits_of(base_url: str, key: str) -> int:
    return requests.get(f"{base_url}/api/v1/credits", headers=auth(key), timeout=10).json()["credits"]


# --- JSON bodies ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,fragment", [
    (DEEP, "nested deeper"),
    ('{"text": ' + DEEP + ', "voiceId": "sys_slt"}', "nested deeper"),
    ('{"text": "hi \\ud800 there", "voiceId": "sys_slt"}', "surrogate"),
    ('{"text": "hi", "voiceId": ' + "9" * 5000 + "}", "Invalid JSON body"),
    (b'{"text": "caf\xe9", "voiceId": "sys_slt"}', "not UTF-8"),
])
def test_hostile_json_on_api_v1_tts_is_400(base_url, fresh_account, body, fragment):
    resp = requests.post(f"{base_url}/api/v1/tts", data=body, timeout=30,
                         headers={**auth(fresh_account.api_key), "Content-Type": "application/json"})
    assert_error(resp, 400, "INVALID_PARAMETERS", fragment)


@pytest.mark.parametrize("body,fragment", [(DEEP, "nested deeper"), ('{"name": "\\udfff"}', "surrogate")])
def test_hostile_json_on_v1_patch_is_400(base_url, fresh_account, body, fragment):
    resp = requests.patch(f"{base_url}/v1/custom-voices/{uuid.uuid4()}", data=body, timeout=30,
                          headers={"X-API-Key": fresh_account.api_key, "Content-Type": "application/json"})
    assert_error(resp, 400, "INVALID_PARAMETERS", fragment)


# --- control characters in text (one rule in the service layer, both surfaces) ---------------------------------------

@pytest.mark.parametrize("text", ["hello\x00world", "bell\x07", "escape \x1b[31m red"])
def test_control_characters_in_text_are_refused_on_both_surfaces_and_nothing_is_charged(base_url, fresh_account,
                                                                                         text):
    resp = requests.post(f"{base_url}/api/v1/tts", json={"text": text, "voiceId": "sys_slt"},
                         headers=auth(fresh_account.api_key), timeout=30)
    assert_error(resp, 400, "INVALID_PARAMETERS", "control character")
    resp = requests.post(f"{base_url}/v1/voice-cloning/tts", headers={"X-API-Key": fresh_account.api_key},
                         data={"text": text, "custom_voice_id": str(uuid.uuid4())}, timeout=30)
    assert_error(resp, 400, "INVALID_PARAMETERS", "control character")
    assert credits_of(base_url, fresh_account.api_key) == 1000


def test_tab_newline_and_carriage_return_are_text(base_url, fresh_account):
    resp = requests.post(f"{base_url}/api/v1/tts", json={"text": "Hello.\r\n\tWorld.", "voiceId": "sys_slt"},
                         headers=auth(fresh_account.api_key), timeout=30)
    assert resp.status_code in (200, 202), resp.text
    assert resp.json()["creditsUsed"] == len("Hello.\r\n\tWorld.")


# --- headers ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [
    {"X-Filler": "a" * 9000},                                  # one field over gunicorn's limit
    {f"X-H{i}": "v" for i in range(120)},                      # more fields than gunicorn takes
])
def test_oversized_headers_get_the_json_error_shape(base_url, fresh_account, headers):
    resp = requests.get(f"{base_url}/api/v1/credits", headers={**auth(fresh_account.api_key), **headers},
                        timeout=10)
    assert resp.status_code in (400, 431)
    assert json.loads(resp.text)["code"] == "INVALID_PARAMETERS"


@pytest.mark.parametrize("key", ["x" * 7000, "has space", "\u00ff\u00fe"])
def test_odd_keys_are_401(base_url, key):
    resp = requests.get(f"{base_url}/api/v1/credits", headers={"X-API-Key": key.encode("latin-1")}, timeout=10)
    assert_error(resp, 401, "UNAUTHORIZED")


# --- multipart --------------------------------------------------------------------------------------------------------

UPLOADS = [("/api/v1/voice-clone", "voice", {}), ("/v1/custom-voices", "audio", {}),
           ("/v1/voice-cloning/tts", "audio_ref", {"text": "Hello there."})]


@pytest.mark.parametrize("path,file_field,fields", UPLOADS)
def test_odd_multipart_is_400_on_every_upload_endpoint(base_url, fresh_account, path, file_field, fields):
    url, headers = f"{base_url}{path}", {"X-API-Key": fresh_account.api_key}
    cases = {
        "missing boundary": dict(data=b"--x\r\n\r\n", headers={**headers, "Content-Type": "multipart/form-data"}),
        "empty boundary": dict(data=b"xx", headers={**headers, "Content-Type": "multipart/form-data; boundary="}),
        "garbage body": dict(data=b"\x00\xff" * 100,
                             headers={**headers, "Content-Type": "multipart/form-data; boundary=XX"}),
        "truncated part": dict(data=f'--XX\r\nContent-Disposition: form-data; name="{file_field}"; '
                                    'filename="a.wav"\r\n\r\nRIFF'.encode(),
                               headers={**headers, "Content-Type": "multipart/form-data; boundary=XX"}),
        "file sent as text": dict(data={**fields, file_field: "not a file"}, headers=headers),
        "huge field name": dict(data={**fields, "n" * 200_000: "x"},
                                files={file_field: ("a.wav", b"RIFF0000WAVE", "audio/wav")}, headers=headers),
        "duplicate fields": dict(data=[*fields.items(), *fields.items(), ("name", "a"), ("name", "b"),
                                       ("tags", "x"), ("tags", "[" * 5000)],
                                 files=[(file_field, ("a.wav", b"RIFF0000WAVE", "audio/wav")),
                                        (file_field, ("b.wav", b"RIFF0000WAVE", "audio/wav"))], headers=headers),
        # A part name that does not parse (name="\\"): werkzeug names it None; with an Idempotency-Key (the
        # request's fingerprint sorts the parts) this was a 500.
        "unparsable part name": dict(data=b'--XX\r\nContent-Disposition: form-data; name="\\"\r\n\r\nx\r\n'
                                          b'--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\ny\r\n--XX--\r\n',
                                     headers={**headers, "Content-Type": "multipart/form-data; boundary=XX",
                                              "Idempotency-Key": uuid.uuid4().hex}),
        "deep tags": dict(data={**fields, "tags": DEEP}, files={file_field: ("a.wav", b"RIFF", "audio/wav")},
                          headers=headers),
    }
    for name, kwargs in cases.items():
        resp = requests.post(url, timeout=30, **kwargs)
        assert resp.status_code == 400, (name, resp.status_code, resp.text[:300])
        assert resp.json()["code"] == "INVALID_PARAMETERS", (name, resp.text[:300])
    assert credits_of(base_url, fresh_account.api_key) == 1000


# --- failed authentication ------------------------------------------------------------------------------------------

def _source_address() -> str:
    """A loopback address of its own (Linux routes all of 127/8 to lo), so this test's failures are its own."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


def get_from(base_url: str, source: str, path: str, key: str) -> tuple[int, dict, dict]:
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"X-API-Key": key})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}"), dict(resp.getheaders())
    finally:
        conn.close()


def test_failed_authentication_is_limited_per_address_before_any_lookup(extra_frontdoor, fresh_account):
    url = extra_frontdoor("frontdoor-auth-budget", AUTH_FAILURES_PER_MINUTE="3",
                          AUTH_FAILURES_GLOBAL_PER_MINUTE="100000")
    attacker, bystander = _source_address(), _source_address()
    for _ in range(3):  # every guess is a different key: the budget is the address's, not the key's
        status, body, _ = get_from(url, attacker, "/api/v1/credits", f"vf_guess_{uuid.uuid4().hex}")
        assert (status, body["code"]) == (401, "UNAUTHORIZED")
    status, body, headers = get_from(url, attacker, "/api/v1/credits", f"vf_guess_{uuid.uuid4().hex}")
    assert (status, body["code"]) == (429, "RATE_LIMITED") and int(headers["Retry-After"]) >= 1
    # Refused before the lookup: even a working key is not looked up from that address now.
    status, body, _ = get_from(url, attacker, "/api/v1/credits", fresh_account.api_key)
    assert (status, body["code"]) == (429, "RATE_LIMITED")
    status, _, _ = get_from(url, attacker, "/v1/jobs/whatever", f"vf_guess_{uuid.uuid4().hex}")
    assert status == 429  # both surfaces share the budget
    # Another address is not affected.
    status, body, _ = get_from(url, bystander, "/api/v1/credits", fresh_account.api_key)
    assert status == 200 and body["credits"] == 1000


def test_failed_authentication_is_limited_globally_for_failing_addresses(extra_frontdoor, fresh_account):
    url = extra_frontdoor("frontdoor-auth-global", AUTH_FAILURES_PER_MINUTE="100000",
                          AUTH_FAILURES_GLOBAL_PER_MINUTE="6")
    attackers = [_source_address() for _ in range(6)]
    answers = [get_from(url, a, "/api/v1/credits", f"vf_guess_{uuid.uuid4().hex}")[0] for a in attackers]
    assert set(answers) <= {401, 429} and answers[0] == 401
    # The global budget is spent now (others' failures in this minute may have spent it sooner): every address that
    # failed is refused before any lookup, ...
    for attacker in attackers:
        assert get_from(url, attacker, "/api/v1/credits", f"vf_guess_{uuid.uuid4().hex}")[0] == 429
    # ... while an address without failures still reaches its key.
    status, body, _ = get_from(url, _source_address(), "/api/v1/credits", fresh_account.api_key)
    assert status == 200 and body["credits"] == 1000


# --- concurrent uploads ---------------------------------------------------------------------------------------------

def _start_slow_upload(url: str, key: str, path: str = "/api/v1/voice-clone") -> socket.socket:
    """Send an upload's headers and the start of its body, and keep the connection open: an upload in progress."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = (f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\nX-API-Key: {key}\r\n"
            "Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 1000000\r\n\r\n"
            '--XX\r\nContent-Disposition: form-data; name="voice"; filename="a.wav"\r\n\r\nRIFF')
    sock.sendall(head.encode())
    return sock


def test_concurrent_uploads_are_limited_per_account(extra_frontdoor, fresh_account, app_processes):
    from frontdoor import admin

    url = extra_frontdoor("frontdoor-uploads", MAX_CONCURRENT_UPLOADS="1")
    other = admin.create_account_with_key(name="other-uploader", credits=0)

    def upload(key: str, path: str = "/api/v1/voice-clone", field: str = "voice") -> requests.Response:
        return requests.post(f"{url}{path}", headers={"X-API-Key": key}, timeout=30,
                             files={field: ("a.wav", b"RIFF0000WAVEfmt ", "audio/wav")})

    from adapters.abuse_limits import AbuseCounters
    from service_config import load

    settings = load()
    counters = AbuseCounters(settings.redis_url, namespace=settings.kafka_topic_prefix)
    held = _start_slow_upload(url, fresh_account.api_key)
    try:
        # The held request must have its slot before the next one asks (else the two race for it).
        wait_for(lambda: counters.uploads_in_progress(fresh_account.account_id) == 1, 20,
                 "the held upload to take the account's only slot")

        def refused():
            resp = upload(fresh_account.api_key)
            return [resp] if resp.status_code == 429 else None  # (a Response is falsy for a 4xx)

        [resp] = wait_for(refused, 20, "a second upload of the account to be refused")
        assert_error(resp, 429, "RATE_LIMITED", "uploads in progress")
        assert int(resp.headers["Retry-After"]) >= 1
        # One budget for every upload endpoint of both surfaces; other accounts are not affected.
        assert upload(fresh_account.api_key, "/v1/custom-voices", "audio").status_code == 429
        assert upload(other.api_key).status_code == 400  # not an audio file: the upload itself was read
    finally:
        held.close()
    # The slot comes back when the held request ends (here: its client went away).
    wait_for(lambda: upload(fresh_account.api_key).status_code == 400, 20, "the slot to be freed")
