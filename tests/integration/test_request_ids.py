"""X-Request-Id on the real stack: on every answer (a well-formed client id kept, else one made), in every error
body, in the front door's log, and carried with the job through Kafka into its view and its completion event."""
from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests

from . import v1_client as v1
from .conftest import error_body, wait_for

pytestmark = pytest.mark.integration

MADE = re.compile(r"req_[0-9a-f]{32}")


def _auth(account) -> dict:
    return {"Authorization": f"Bearer {account.api_key}"}


def test_a_well_formed_client_id_is_kept_on_every_answer(base_url, demo_account):
    answers = {
        "ok": lambda h: requests.get(f"{base_url}/api/v1/credits", headers={**_auth(demo_account), **h}, timeout=10),
        "401": lambda h: requests.get(f"{base_url}/api/v1/credits", headers=h, timeout=10),
        "404 job": lambda h: requests.get(f"{base_url}/api/v1/tts/nope", headers={**_auth(demo_account), **h},
                                          timeout=10),
        "404 route": lambda h: requests.get(f"{base_url}/api/v1/nowhere", headers={**_auth(demo_account), **h},
                                            timeout=10),
        "405": lambda h: requests.delete(f"{base_url}/api/v1/credits", headers={**_auth(demo_account), **h},
                                         timeout=10),
        "400": lambda h: requests.post(f"{base_url}/api/v1/tts", headers={**_auth(demo_account), **h},
                                       json={"text": "", "voiceId": "sys_slt"}, timeout=10),
        "v1 404": lambda h: requests.get(f"{base_url}/v1/jobs/nope", headers={**_auth(demo_account), **h},
                                         timeout=10),
    }
    for name, call in answers.items():
        mine = f"trace-{name.replace(' ', '_')}.{uuid.uuid4().hex[:8]}"
        resp = call({"X-Request-Id": mine})
        assert resp.headers.get("X-Request-Id") == mine, (name, resp.status_code, resp.headers)
        if resp.status_code >= 400:
            assert error_body(resp)["code"], name  # error_body checks requestId == the header
        else:
            assert "requestId" not in resp.json()


@pytest.mark.parametrize("presented", ["x" * 129, "has space", "semi;colon", "slash/1", "é"])
def test_a_malformed_id_is_replaced_by_a_new_one(base_url, demo_account, presented):
    resp = requests.get(f"{base_url}/api/v1/tts/nope", headers={**_auth(demo_account), "X-Request-Id": presented},
                        timeout=10)
    assert resp.status_code == 404
    assert MADE.fullmatch(resp.headers["X-Request-Id"]), resp.headers["X-Request-Id"]
    assert error_body(resp)["code"] == "NOT_FOUND"


def test_without_a_client_id_each_answer_gets_its_own(base_url, demo_account):
    ids = {requests.get(f"{base_url}/api/v1/credits", headers=_auth(demo_account), timeout=10)
           .headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3 and all(MADE.fullmatch(i) for i in ids)


def test_rate_limited_answers_carry_it(extra_frontdoor, demo_account):
    url = extra_frontdoor("frontdoor-rid-limited", RATE_LIMIT_PER_MINUTE="1")
    answers = [requests.get(f"{url}/api/v1/credits", headers=_auth(demo_account), timeout=10) for _ in range(3)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    assert error_body(limited[0])["code"] == "RATE_LIMITED"


def test_the_front_door_log_names_the_request(base_url, demo_account, app_processes):
    mine = f"log-trace-{uuid.uuid4().hex}"
    requests.get(f"{base_url}/api/v1/credits", headers={**_auth(demo_account), "X-Request-Id": mine}, timeout=10)
    log_path = app_processes["frontdoor"].log_path
    line = wait_for(lambda: next((ln for ln in log_path.read_text(errors="replace").splitlines() if mine in ln),
                                 None), 10, "the request's access-log line")
    assert "/api/v1/credits" in line and " 200 " in line


def _find_on_topic(topic: str, match, timeout_s: float = 60.0):
    """The first decoded envelope on ``topic`` (whole topic, from the beginning) for which ``match`` is true."""
    from confluent_kafka import Consumer

    from service_config import load

    settings = load()
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"rid-{uuid.uuid4().hex}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topic(topic)])
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() or not message.value():  # a ledger nudge carries no body
                continue
            try:
                envelope = json.loads(message.value())
            except ValueError:  # not JSON (tests/integration/test_dead_letters.py puts such records on topics)
                continue
            if match(envelope):
                return envelope
    finally:
        consumer.close()
    raise AssertionError(f"no matching message on {topic} within {timeout_s:.0f}s")


def test_the_id_rides_with_the_job_into_its_events_and_views(base_url, fresh_account):
    from schemas import events as ev

    mine = f"job-trace-{uuid.uuid4().hex}"
    resp = requests.post(f"{base_url}/api/v1/tts", headers={**_auth(fresh_account), "X-Request-Id": mine},
                         json={"text": "Traced from request to event.", "voiceId": "sys_slt"}, timeout=60)
    assert resp.status_code in (200, 202), resp.text
    assert resp.headers["X-Request-Id"] == mine
    speech_id = resp.json()["speechId"]

    reserve = _find_on_topic(ev.TOPIC_REQUESTS, lambda e: e["payload"].get("jobId") == speech_id
                             and e["name"] == "ReserveCreditsForJob")
    assert reserve["payload"]["job"]["requestId"] == mine
    # The job view (both surfaces' job reads show the same job).
    job = v1.job(base_url, {"X-API-Key": fresh_account.api_key}, speech_id)
    assert job.status_code == 200 and job.json()["request_id"] == mine
    done = v1.wait_job(base_url, {"X-API-Key": fresh_account.api_key}, speech_id)
    assert done["request_id"] == mine
    # The public completion event names the request that asked for the job.
    completion = _find_on_topic(ev.TOPIC_COMPLETIONS, lambda e: e["payload"].get("jobId") == speech_id
                                or e["payload"].get("speechId") == speech_id)
    assert completion["payload"].get("requestId") == mine, completion


def test_the_worker_log_names_the_request_of_the_job_it_runs(base_url, fresh_account, app_processes):
    mine = f"worker-trace-{uuid.uuid4().hex}"
    resp = requests.post(f"{base_url}/api/v1/tts", headers={**_auth(fresh_account), "X-Request-Id": mine},
                         json={"text": "Traced into the worker's log.", "voiceId": "sys_slt"}, timeout=60)
    assert resp.status_code in (200, 202), resp.text
    speech_id = resp.json()["speechId"]
    log_path = app_processes["workers"].log_path
    line = wait_for(lambda: next((ln for ln in log_path.read_text(errors="replace").splitlines()
                                  if f"[{mine}]" in ln), None), 60, "a worker log line with the request id")
    assert speech_id in line


def test_a_v1_job_keeps_the_id_too(base_url, app_processes):
    from tests import voice_audio

    headers = v1.new_account(base_url, "rid-v1", 5_000)
    mine = f"v1-trace-{uuid.uuid4().hex}"
    resp = v1.tts(base_url, {**headers, "X-Request-Id": mine}, {"text": "A traced clone.", "async_mode": "true"},
                  audio_ref=voice_audio.flite_wav(voice="awb"))
    assert resp.status_code == 202, resp.text
    assert resp.headers["X-Request-Id"] == mine
    assert v1.job(base_url, headers, resp.json()["job_id"]).json()["request_id"] == mine
