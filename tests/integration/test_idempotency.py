"""Idempotency-Key on the real stack: a retried POST replays its first answer and charges once; the same key with
another request is refused; concurrent duplicates make one job; keys are kept 24 h per account (Redis)."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from pymongo import MongoClient

from tests import voice_audio

from . import v1_client as v1
from .conftest import error_body, wait_for

pytestmark = pytest.mark.integration

TEXT = "Idempotent speech, asked for once."


def _headers(account, key: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {account.api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def _tts(base_url, headers, text=TEXT, fmt="wav"):
    return requests.post(f"{base_url}/api/v1/tts", headers=headers,
                         json={"text": text, "voiceId": "sys_slt", "format": fmt}, timeout=60)


def _balance(base_url, account) -> int:
    return requests.get(f"{base_url}/api/v1/credits", headers=_headers(account), timeout=10).json()["credits"]


def _speeches(account) -> list[dict]:
    from service_config import load

    settings = load()
    with MongoClient(settings.mongo_uri, tz_aware=True) as client:
        return list(client[settings.mongo_db].speeches.find({"accountId": account.account_id}))


def _wait_all_ended(base_url, account):
    def ended():
        docs = _speeches(account)
        return docs if docs and all(d.get("status") in ("COMPLETED", "FAILED") for d in docs) else None

    return wait_for(ended, 120, "the account's speeches to end")


def test_a_retry_replays_the_first_answer_and_charges_once(base_url, fresh_account):
    key = str(uuid.uuid4())
    first = _tts(base_url, _headers(fresh_account, key))
    assert first.status_code in (200, 202), first.text
    retry = _tts(base_url, _headers(fresh_account, key))
    assert retry.status_code == first.status_code
    assert retry.json() == first.json()  # same speech id, same body
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Request-Id"):
        assert header in retry.headers
    assert retry.headers["X-Request-Id"] != first.headers["X-Request-Id"]  # a new request, the old answer

    docs = _wait_all_ended(base_url, fresh_account)
    assert [d["_id"] for d in docs] == [first.json()["speechId"]], "a replay made a second job"
    price = len(TEXT.encode())
    wait_for(lambda: _balance(base_url, fresh_account) == 1000 - price, 30, "exactly one capture")
    assert _tts(base_url, _headers(fresh_account, key)).json() == first.json()  # still the same after the job


def test_the_same_key_with_another_request_is_a_clear_422(base_url, fresh_account):
    key = str(uuid.uuid4())
    first = _tts(base_url, _headers(fresh_account, key))
    assert first.status_code in (200, 202), first.text
    other_text = _tts(base_url, _headers(fresh_account, key), text="Something else entirely.")
    assert other_text.status_code == 422
    body = error_body(other_text)
    assert body["code"] == "IDEMPOTENCY_KEY_REUSED" and "Idempotency-Key" in body["error"]
    # Another path with the same key is another request too.
    voice = requests.post(f"{base_url}/api/v1/api-keys", headers=_headers(fresh_account, key), json={}, timeout=30)
    assert voice.status_code == 422 and voice.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    # JSON that only differs in key order and spacing is the same request.
    same = requests.post(f"{base_url}/api/v1/tts", timeout=60,
                         headers={**_headers(fresh_account, key), "Content-Type": "application/json"},
                         data='{ "format": "wav",  "voiceId": "sys_slt", "text": "%s" }' % TEXT)
    assert same.status_code == first.status_code and same.json() == first.json()
    assert len(_speeches(fresh_account)) == 1


def test_keys_are_scoped_per_account(base_url, app_processes):
    from frontdoor import admin

    key = str(uuid.uuid4())
    one, two = (admin.create_account_with_key(name=f"idem-{n}", credits=1000) for n in (1, 2))
    for account in (one, two):
        wait_for(lambda a=account: _balance(base_url, a) == 1000, 60, "credits to show")
    first, second = _tts(base_url, _headers(one, key)), _tts(base_url, _headers(two, key))
    assert first.status_code in (200, 202) and second.status_code in (200, 202), (first.text, second.text)
    assert first.json()["speechId"] != second.json()["speechId"]
    assert "Idempotent-Replayed" not in second.headers


def test_concurrent_duplicates_resolve_to_one_job(base_url, fresh_account):
    key = str(uuid.uuid4())
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _tts(base_url, _headers(fresh_account, key)), range(8)))
    done = [a for a in answers if a.status_code in (200, 202)]
    assert all(a.status_code in (200, 202, 409) for a in answers), [a.text for a in answers]
    assert done and len({a.json()["speechId"] for a in done}) == 1, [a.text for a in answers]
    assert sum("Idempotent-Replayed" not in a.headers for a in done) == 1  # one ran, the others replayed it
    for busy in (a for a in answers if a.status_code == 409):
        assert busy.json()["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS" and busy.headers.get("Retry-After")
    docs = _wait_all_ended(base_url, fresh_account)
    assert len(docs) == 1, "concurrent duplicates made more than one job"
    price = len(TEXT.encode())
    wait_for(lambda: _balance(base_url, fresh_account) == 1000 - price, 30, "exactly one capture")


def test_keys_are_kept_for_at_least_24_hours(base_url, fresh_account):
    from adapters.idempotency import IdempotencyStore
    from service_config import load

    key = str(uuid.uuid4())
    assert _tts(base_url, _headers(fresh_account, key)).status_code in (200, 202)
    store = IdempotencyStore(load().redis_url, ttl_s=0, lock_s=0)
    assert store.ttl(fresh_account.account_id, key) > 24 * 3600 - 60


def test_refusals_that_charge_nothing_are_not_kept_but_bad_input_is(base_url, app_processes):
    from frontdoor import admin

    poor = admin.create_account_with_key(name="idem-poor", credits=5)
    wait_for(lambda: _balance(base_url, poor) == 5, 60, "credits to show")
    key = str(uuid.uuid4())
    refused = _tts(base_url, _headers(poor, key))
    assert refused.status_code == 429 and refused.json()["code"] == "USAGE_LIMIT_EXCEEDED"
    again = _tts(base_url, _headers(poor, key))  # runs again (the client may have bought credits meanwhile)
    assert again.status_code == 429 and "Idempotent-Replayed" not in again.headers

    bad_key = str(uuid.uuid4())
    bad = _tts(base_url, _headers(poor, bad_key), fmt="flac")
    assert bad.status_code == 400
    replay = _tts(base_url, _headers(poor, bad_key), fmt="flac")
    assert replay.status_code == 400 and replay.headers.get("Idempotent-Replayed") == "true"
    assert error_body(replay) == error_body(bad)


def test_a_malformed_key_is_a_400(base_url, fresh_account):
    resp = _tts(base_url, _headers(fresh_account, "x" * 256))
    assert resp.status_code == 400 and "Idempotency-Key" in error_body(resp)["error"]
    assert _speeches(fresh_account) == []


def test_v1_multipart_retry_is_the_same_request_whatever_the_boundary(base_url, app_processes):
    headers = v1.new_account(base_url, "idem-v1", 5_000)
    key = str(uuid.uuid4())
    reference = voice_audio.flite_wav(voice="awb")
    form = {"text": "Cloned once, retried twice.", "async_mode": "true"}
    answers = [v1.tts(base_url, {**headers, "Idempotency-Key": key}, form, audio_ref=reference) for _ in range(2)]
    assert answers[0].status_code == 202, answers[0].text
    assert answers[1].status_code == 202 and answers[1].json() == answers[0].json()
    assert answers[1].headers.get("Idempotent-Replayed") == "true"
    other = v1.tts(base_url, {**headers, "Idempotency-Key": key}, {**form, "text": "Another text."},
                   audio_ref=reference)
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    job = v1.wait_job(base_url, headers, answers[0].json()["job_id"])
    price = len(form["text"].encode())
    wait_for(lambda: v1.balance(base_url, headers) == 5_000 - (price if job["status"] == "completed" else 0), 30,
             "one job's charge")
