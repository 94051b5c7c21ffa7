"""Waiting without polling, on the real stack: ?wait= on GET /api/v1/tts/{id} and GET /v1/jobs/{id} answers as soon
as the job ends (woken by the MongoDB change stream) or at the deadline with the state then; job reads have their
own rate-limit budget, so polling never starves the requests that do work."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from pymongo import MongoClient

from .conftest import error_body

pytestmark = pytest.mark.integration

RECHECK_S = 5.0  # service_layer.jobs.RECHECK_S: a woken request answers well before this fallback re-read


def _auth(account) -> dict:
    return {"Authorization": f"Bearer {account.api_key}"}


@pytest.fixture(scope="module")
def speeches(app_processes):
    from service_config import load

    settings = load()
    with MongoClient(settings.mongo_uri, tz_aware=True) as client:
        yield client[settings.mongo_db].speeches


def _running_job(speeches, account) -> str:
    """A speech view that stays PROCESSING until the test moves it (as the projector would)."""
    from schemas import events as ev

    speech_id = "clwait" + uuid.uuid4().hex[:18]
    now = ev.utc_now()
    speeches.insert_one({"_id": speech_id, "accountId": account.account_id, "kind": "tts", "state": "PROCESSING",
                         "status": "PROCESSING", "text": "waiting", "format": "wav", "creditsUsed": 7,
                         "voice": {"id": "sys_slt", "title": "SLT", "coverImage": None, "type": "SYSTEM"},
                         "voiceId": "sys_slt", "audioKey": None, "duration": None, "error": None,
                         "createdAt": now, "updatedAt": now})
    return speech_id


def _fail_later(speeches, speech_id: str, delay_s: float) -> threading.Thread:
    def move():
        time.sleep(delay_s)  # the change happens while the request waits (or earlier: the test still holds)
        speeches.update_one({"_id": speech_id}, {"$set": {"state": "FAILED", "status": "FAILED",
                                                          "error": "moved by the test"}})
        moved_at.append(time.monotonic())

    moved_at: list[float] = []
    thread = threading.Thread(target=move)
    thread.moved_at = moved_at  # type: ignore[attr-defined]
    thread.start()
    return thread


@pytest.mark.parametrize("path", ["/api/v1/tts/{id}", "/v1/jobs/{id}"])
@pytest.mark.parametrize("wait", ["31", "-1", "abc", "nan"])
def test_wait_out_of_range_is_a_400(base_url, demo_account, path, wait):
    resp = requests.get(f"{base_url}{path.format(id='any')}", params={"wait": wait}, headers=_auth(demo_account),
                        timeout=10)
    assert resp.status_code == 400, resp.text
    body = error_body(resp)
    assert body["code"] == "INVALID_PARAMETERS" and "wait" in body["error"]


@pytest.mark.parametrize("path,status_of", [
    ("/api/v1/tts/{id}", lambda body: body["speech"]["status"]),
    ("/v1/jobs/{id}", lambda body: body["status"]),
])
def test_at_the_deadline_the_answer_is_the_current_state(base_url, fresh_account, speeches, path, status_of):
    speech_id = _running_job(speeches, fresh_account)
    started = time.monotonic()
    resp = requests.get(f"{base_url}{path.format(id=speech_id)}", params={"wait": "1.5"},
                        headers=_auth(fresh_account), timeout=30)
    assert resp.status_code == 200, resp.text
    assert status_of(resp.json()).upper() == "PROCESSING"
    assert time.monotonic() - started >= 1.5  # it waited for the deadline
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-Request-Id"):
        assert header in resp.headers


@pytest.mark.parametrize("path,status_of", [
    ("/api/v1/tts/{id}", lambda body: body["speech"]["status"]),
    ("/v1/jobs/{id}", lambda body: body["status"]),
])
def test_a_waiting_read_answers_when_the_job_ends(base_url, fresh_account, speeches, path, status_of):
    speech_id = _running_job(speeches, fresh_account)
    mover = _fail_later(speeches, speech_id, 1.0)
    resp = requests.get(f"{base_url}{path.format(id=speech_id)}", params={"wait": "25"},
                        headers=_auth(fresh_account), timeout=60)
    answered = time.monotonic()
    mover.join()
    assert resp.status_code == 200, resp.text
    assert status_of(resp.json()).upper() == "FAILED"  # read after the change, not at the 25 s deadline
    # Woken by the change stream, not by the fallback re-read every RECHECK_S.
    assert answered - mover.moved_at[0] < RECHECK_S - 1, answered - mover.moved_at[0]


def test_a_real_job_is_waited_for_in_one_request(base_url, fresh_account):
    resp = requests.post(f"{base_url}/api/v1/tts", headers=_auth(fresh_account),
                         json={"text": "Wait for me, do not poll.", "voiceId": "sys_slt"}, timeout=60)
    assert resp.status_code in (200, 202), resp.text
    speech_id = resp.json()["speechId"]
    speech = None
    for _ in range(6):  # a job on this busy machine may take longer than one 30 s wait
        speech = requests.get(f"{base_url}/api/v1/tts/{speech_id}", params={"wait": "30"},
                              headers=_auth(fresh_account), timeout=60).json()["speech"]
        if speech["status"] != "PROCESSING":
            break
    assert speech is not None and speech["status"] == "COMPLETED", speech
    assert speech["audioUrl"]


def test_an_unknown_or_foreign_job_is_404_at_once(base_url, fresh_account, demo_account, speeches):
    foreign = _running_job(speeches, demo_account)
    started = time.monotonic()
    for path in (f"/api/v1/tts/{foreign}", f"/v1/jobs/{foreign}", "/v1/jobs/nope"):
        resp = requests.get(f"{base_url}{path}", params={"wait": "20"}, headers=_auth(fresh_account), timeout=30)
        assert resp.status_code == 404 and error_body(resp)["code"] == "NOT_FOUND"
    assert time.monotonic() - started < 20  # not found is answered without waiting


def test_polling_jobs_never_starves_the_requests_that_do_work(extra_frontdoor, fresh_account, speeches):
    # The default budgets: 120 requests a minute, job reads 2400 a minute on their own.
    url = extra_frontdoor("frontdoor-budgets", RATE_LIMIT_PER_MINUTE="120")
    jobs = [_running_job(speeches, fresh_account) for _ in range(16)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        reads = list(pool.map(
            lambda job: requests.get(f"{url}/api/v1/tts/{job}", headers=_auth(fresh_account), timeout=30),
            jobs * 8))  # 16 jobs polled 8 times: more reads than the whole 120-a-minute budget
    assert all(r.status_code == 200 for r in reads), {r.status_code for r in reads}
    assert {r.headers["X-RateLimit-Limit"] for r in reads} == {"2400"}
    work = requests.post(f"{url}/api/v1/tts", headers=_auth(fresh_account),
                         json={"text": "Still served.", "voiceId": "sys_slt"}, timeout=60)
    assert work.status_code in (200, 202), work.text
    assert work.headers["X-RateLimit-Limit"] == "120"


def test_each_budget_refuses_on_its_own(extra_frontdoor, fresh_account, speeches):
    url = extra_frontdoor("frontdoor-small-budgets", RATE_LIMIT_PER_MINUTE="5", JOB_READ_RATE_LIMIT_PER_MINUTE="1000")
    job = _running_job(speeches, fresh_account)
    # 12 calls against a budget of 5: refused at least once even if a window boundary falls among them.
    general = [requests.get(f"{url}/api/v1/credits", headers=_auth(fresh_account), timeout=10) for _ in range(12)]
    refused = [r for r in general if r.status_code == 429]
    assert refused and error_body(refused[0])["code"] == "RATE_LIMITED"
    assert refused[0].headers["X-RateLimit-Limit"] == "5" and refused[0].headers["X-RateLimit-Remaining"] == "0"
    read = requests.get(f"{url}/v1/jobs/{job}", headers=_auth(fresh_account), timeout=10)
    assert read.status_code == 200 and read.headers["X-RateLimit-Limit"] == "1000"
