"""Public completion events of real jobs on the real broker, read by the example consumer (examples/): speech and
voice jobs, keyed by account (one partition, in order), every field the contract lists, deduplicated by id."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

from tests import voice_audio

from .conftest import wait_for
from .test_voices import wait_voice

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CONSUMER = REPO / "examples" / "completions_consumer.py"
SPEC = json.loads((REPO / "schemas" / "completions.asyncapi.json").read_text())


def _consume(account_id: str, until_job: str, timeout_s: float = 90) -> list[dict]:
    """Run the example consumer (a new group, from the beginning) until it prints ``until_job``'s event."""
    from service_config import load

    settings = load()
    out = subprocess.run(
        [sys.executable, str(CONSUMER), "--bootstrap", settings.kafka_bootstrap,
         "--topic", settings.topic("completions"), "--group", f"example-{uuid.uuid4().hex[:8]}", "--from-beginning",
         "--account", account_id, "--until-job", until_job, "--timeout", str(timeout_s)],
        capture_output=True, text=True, timeout=timeout_s + 30, cwd=REPO, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def _validate(envelope: dict, schema_name: str) -> None:
    import jsonschema

    jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{schema_name}",
                                     "components": SPEC["components"]}).validate(envelope)


def _wait_speech(base_url, headers, speech_id):
    def done():
        speech = requests.get(f"{base_url}/api/v1/tts/{speech_id}", headers=headers, timeout=5).json()["speech"]
        return speech if speech["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(done, 120, f"speech {speech_id} to finish")


def test_a_speech_job_s_completion_reaches_the_example_consumer(base_url, fresh_account):
    headers = {"Authorization": f"Bearer {fresh_account.api_key}", "X-Request-Id": f"req-{uuid.uuid4().hex[:12]}"}
    text = "Completion events for everyone."
    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers,
                         json={"text": text, "voiceId": "sys_slt", "format": "mp3"}, timeout=30)
    assert resp.status_code == 200, resp.text
    speech_id = resp.json()["speechId"]
    speech = _wait_speech(base_url, headers, speech_id)
    assert speech["status"] == "COMPLETED", speech

    records = _consume(fresh_account.account_id, speech_id)
    mine = [r for r in records if r["event"]["correlationId"] == speech_id]
    assert len(mine) == 1, records
    record, event = mine[0], mine[0]["event"]
    _validate(event, "SpeechCompletedEnvelope")
    assert record["key"] == fresh_account.account_id  # keyed by account: its events share one partition
    p = event["payload"]
    assert (event["name"], event["version"], p["jobId"], p["accountId"], p["voiceId"]) == \
        ("speech.completed", 2, speech_id, fresh_account.account_id, "sys_slt")
    assert p["creditsCharged"] == len(text.encode()) and p["duration"] == pytest.approx(speech["duration"], abs=1e-3)
    assert p["audioKey"] and p["audioKey"].endswith(f"{speech_id}.mp3")
    timings = p["timings"]
    assert timings["runMs"] > 0 and timings["queuedMs"] >= 0 and timings["createdAt"] <= timings["startedAt"]
    assert p["requestId"] == resp.headers.get("X-Request-Id") == headers["X-Request-Id"]


def test_voice_events_and_order_within_the_account(base_url, app_processes):
    from frontdoor import admin

    issued = admin.create_account_with_key(name="events", credits=3000)
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"] == 3000,
             60, "credits to show")
    reference = voice_audio.flite_wav(voice="awb")
    ok = requests.post(f"{base_url}/api/v1/voice-clone", headers=headers, timeout=60,
                       files={"voice": ("v.wav", reference, "audio/wav")}, data={"title": "Events"})
    assert ok.status_code == 200, ok.text
    good_id = ok.json()["voiceId"]
    silent = voice_audio.to_wav(voice_audio.silence(12), 16000)  # accepted, then refused by enrolment
    bad = requests.post(f"{base_url}/api/v1/voice-clone", headers=headers, timeout=60,
                        files={"voice": ("s.wav", silent, "audio/wav")}, data={"title": "Silent"})
    assert bad.status_code == 200, bad.text
    failed_id = bad.json()["voiceId"]
    assert wait_voice(base_url, headers, good_id)["status"] == "COMPLETED"
    assert wait_voice(base_url, headers, failed_id)["status"] == "FAILED"
    last = failed_id
    records = _consume(issued.account_id, last)
    by_job = {r["event"]["correlationId"]: r for r in records}
    ready = by_job[good_id]["event"]
    _validate(ready, "VoiceReadyEnvelope")
    p = ready["payload"]
    assert (ready["name"], p["voiceId"], p["creditsCharged"]) == ("voice.ready", good_id, 1000)
    assert p["audioKey"] and p["duration"] > 5 and p["timings"]["runMs"] > 0
    failed = by_job[failed_id]["event"]
    _validate(failed, "VoiceFailedEnvelope")
    assert failed["name"] == "voice.failed" and failed["payload"]["creditsCharged"] == 0
    assert failed["payload"]["error"]
    assert len({r["partition"] for r in records}) == 1  # one account, one partition: its order is kept
    offsets = [r["offset"] for r in records]
    assert offsets == sorted(offsets)


def test_the_example_consumer_drops_a_redelivered_event(base_url, fresh_account):
    """A redelivery repeats the envelope (same id): put a copy of a real event back on the topic."""
    from confluent_kafka import Producer

    from service_config import load

    headers = {"Authorization": f"Bearer {fresh_account.api_key}"}
    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers,
                         json={"text": "Once only.", "voiceId": "sys_slt", "format": "wav"}, timeout=30)
    speech_id = resp.json()["speechId"]
    _wait_speech(base_url, headers, speech_id)
    original = [r for r in _consume(fresh_account.account_id, speech_id) if r["event"]["correlationId"] == speech_id]
    assert len(original) == 1
    settings = load()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap})
    sentinel = {**original[0]["event"], "id": uuid.uuid4().hex, "correlationId": f"sentinel-{uuid.uuid4().hex[:6]}"}
    for envelope in (original[0]["event"], sentinel):  # the copy, then a marker to stop at
        producer.produce(settings.topic("completions"), key=fresh_account.account_id.encode(),
                         value=json.dumps(envelope).encode())
    assert producer.flush(10) == 0
    records = _consume(fresh_account.account_id, sentinel["correlationId"])
    ids = [r["event"]["id"] for r in records]
    assert ids.count(original[0]["event"]["id"]) == 1 and sentinel["id"] in ids  # the copy was read and dropped


def test_a_v1_job_s_completion_says_so(base_url, app_processes):
    """/v1/voice-cloning/tts with a reference upload: speech.completed with api "v1" and no voice id."""
    from . import v1_client as v1

    headers = v1.new_account(base_url, "v1-events", 2000)
    text = "A job from the second surface."
    resp = v1.tts(base_url, headers, {"text": text, "async_mode": "true"},
                  audio_ref=voice_audio.flite_wav(voice="awb"))
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["job_id"]
    assert v1.wait_job(base_url, headers, job_id, timeout_s=300)["status"] == "completed"  # enrol + speak
    records = [r for r in _consume_job(job_id) if r["event"]["correlationId"] == job_id]
    assert len(records) == 1
    event = records[0]["event"]
    _validate(event, "SpeechCompletedEnvelope")
    p = event["payload"]
    assert (event["name"], p["api"], p["voiceId"], p["creditsCharged"]) == ("speech.completed", "v1", None,
                                                                               len(text.encode()))
    assert p["audioKey"].endswith(f"{job_id}.wav") and p["timings"]["runMs"] > 0
    assert records[0]["key"] == p["accountId"] and p["accountId"]  # keyed by its account


def _consume_job(job_id: str) -> list[dict]:
    """Every account's events up to ``job_id``'s (the /v1 helper does not hand out the account id)."""
    from service_config import load

    settings = load()
    out = subprocess.run(
        [sys.executable, str(CONSUMER), "--bootstrap", settings.kafka_bootstrap, "--topic",
         settings.topic("completions"), "--group", f"example-{uuid.uuid4().hex[:8]}", "--from-beginning",
         "--until-job", job_id, "--timeout", "90"],
        capture_output=True, text=True, timeout=120, cwd=REPO, env=os.environ.copy())
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def test_a_request_refused_for_credits_still_ends_with_a_failed_event(base_url, app_processes):
    """The front door answers 429 when the ledger's refusal arrives in time, 202 when it comes late; either way the
    job ends on the completions topic (speech.failed, nothing charged), found here by its X-Request-Id."""
    from confluent_kafka import Consumer

    from frontdoor import admin
    from service_config import load

    poor = admin.create_account_with_key(name="refused-events", credits=5)
    request_id = f"req-refused-{uuid.uuid4().hex[:10]}"
    headers = {"Authorization": f"Bearer {poor.api_key}", "X-Request-Id": request_id}
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"] == 5,
             60, "the small grant to show")
    text = "This costs more than five credits."
    resp = requests.post(f"{base_url}/api/v1/tts", headers=headers, json={"text": text, "voiceId": "sys_slt"},
                         timeout=30)
    assert resp.status_code == 429, resp.text

    settings = load()
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"refused-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([settings.topic("completions")])
    seen: list[dict] = []

    def refusal_event():
        message = consumer.poll(1.0)
        if message is not None and message.error() is None and message.key() == poor.account_id.encode():
            seen.append(json.loads(message.value()))
        return next((e for e in seen if e["payload"].get("requestId") == request_id), None)

    try:
        event = wait_for(refusal_event, 90, "the refused request's completion event")
    finally:
        consumer.close()
    _validate(event, "SpeechFailedEnvelope")
    p = event["payload"]
    assert (event["name"], p["accountId"], p["voiceId"], p["creditsCharged"], p["timings"]) == \
        ("speech.failed", poor.account_id, "sys_slt", 0, None)
    assert p["error"] == f"Insufficient credits: have 5, need {len(text.encode())}"
    assert len([e for e in seen if e["payload"].get("requestId") == request_id]) == 1
    credits = requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"]
    assert credits == 5                                                  # and nothing was charged
