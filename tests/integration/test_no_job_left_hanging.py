"""No accepted job is left hanging (issue 12, part 3), on the real stack: a reservation the ledger cannot decide
fails its job at once; a job stuck unfinished (its reservation never decided, its acceptance never acted on, its
stage never answering) is failed by the sweeper, its view says why, and its credits come back through the ledger.

The sweeper's own timer runs in the session's worker with the production deadline (JOB_DEADLINE_S, 20 min); here
one sweep is run in-process with a deadline of a second, over this test's account only (the query and the
settlement are the ones the timer uses: streams/sweeper.py is a loop around them). The last test runs the timer
itself, in a worker of its own with a 3 s deadline.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests

import ledger
from adapters import kafka, mongo
from schemas import events as ev
from schemas import jobs
from schemas import messages as msg
from service_config import load
from streams.sweeper_logic import UNDECIDABLE_REASON, stuck_settlement

from .conftest import wait_for
from .ledger_helpers import auth, ledger_events, new_account, now, wait_audit_clean

pytestmark = pytest.mark.integration

DEADLINE_S = 1.0


@pytest.fixture()
def publisher(app_processes):
    publisher = kafka.EventPublisher(load())
    yield publisher
    publisher.close()


@pytest.fixture()
def db(app_processes):
    return mongo.connect(load())


def credits(base_url: str, key: str) -> int:
    return requests.get(f"{base_url}/api/v1/credits", headers=auth(key), timeout=10).json()["credits"]


def record_request(db, account_id: str, job_id: str, price: int) -> None:
    """The speech view the front door writes once a request is published (PENDING_CREDITS)."""
    at = now()
    mongo.apply_job_transition(db, job_id, jobs.PENDING_CREDITS,
                               {"accountId": account_id, "kind": ev.JOB_KIND_TTS, "text": "x" * price,
                                "format": "wav", "creditsUsed": price, "createdAt": at, "updatedAt": at}, {})


def publish(publisher: kafka.EventPublisher, message: msg.Message, envelope: ev.Event | None = None) -> None:
    publisher.publish(message.TOPIC, message.key(), envelope or message.envelope())


def speech(base_url: str, key: str, job_id: str) -> dict:
    return requests.get(f"{base_url}/api/v1/tts/{job_id}", headers=auth(key), timeout=10).json()["speech"]


def sweep(db, publisher, account_id: str) -> list[str]:
    """One sweep, as the worker's timer does it, over one account with a short deadline."""
    at = now()
    swept = []
    for view in mongo.find_unfinished_jobs(db, at - timedelta(seconds=DEADLINE_S), account_id=account_id):
        settlement = stuck_settlement(view, at, DEADLINE_S)
        for message, envelope in settlement:
            publish(publisher, message, envelope)
        if settlement:
            swept.append(view["_id"])
    return swept


def test_a_reservation_the_ledger_cannot_decode_fails_its_job_at_once(base_url, db, publisher):
    account = new_account(base_url, 1000)
    job_id = f"cl{uuid.uuid4().hex[:24]}"
    record_request(db, account.account_id, job_id, 40)
    # What a buggy or foreign producer might send: the job id and account are readable, the amount is not.
    bad = ev.Event(name=msg.ReserveCreditsForJob.WIRE_NAME, correlation_id=job_id, payload={
        "accountId": account.account_id, "commandId": f"reserve:{job_id}", "jobId": job_id, "amount": "lots",
        "job": {"kind": "tts", "jobId": job_id, "accountId": account.account_id}})
    publisher.publish(ev.TOPIC_REQUESTS, account.account_id, bad)

    failed = wait_for(lambda: (s := speech(base_url, account.api_key, job_id))["status"] == "FAILED" and s, 60,
                      "the undecodable reservation's job to fail")
    assert failed["error"] == UNDECIDABLE_REASON
    job = requests.get(f"{base_url}/v1/jobs/{job_id}", headers={"X-API-Key": account.api_key}, timeout=10).json()
    assert job["status"] == "failed" and job["error"] == UNDECIDABLE_REASON
    assert credits(base_url, account.api_key) == 1000


def _reserve_for_nothing(publisher, account_id: str, job_id: str, price: int) -> None:
    """A reservation accepted by the ledger for a job no stage runs (an OtherJob): the credits are held and the
    job waits for ever, as when JobAccepted is lost or the stage never answers."""
    job = msg.OtherJob(kind="no-stage", job_id=job_id, account_id=account_id, credits_used=price)
    publish(publisher, msg.ReserveCreditsForJob.for_job(job))


@pytest.mark.parametrize("started", [False, True], ids=["accepted-never-started", "started-never-finished"])
def test_the_sweeper_fails_a_stuck_job_and_its_credits_come_back(base_url, db, publisher, started):
    account = new_account(base_url, 1000)
    job_id = f"cl{uuid.uuid4().hex[:24]}"
    record_request(db, account.account_id, job_id, 300)
    _reserve_for_nothing(publisher, account.account_id, job_id, 300)
    wait_for(lambda: credits(base_url, account.api_key) == 700, 60, "the reservation to hold 300 credits")
    if started:
        publish(publisher, msg.JobStarted(job_id=job_id, account_id=account.account_id, kind=ev.JOB_KIND_TTS))
        wait_for(lambda: mongo.find_job(db, job_id)["state"] == jobs.PROCESSING, 30, "the job to show started")
    else:
        wait_for(lambda: mongo.find_job(db, job_id)["state"] == jobs.QUEUED, 30, "the job to show accepted")
    assert sweep(db, publisher, account.account_id) == []  # younger than the deadline: left alone

    swept = wait_for(lambda: sweep(db, publisher, account.account_id), 30, "the job to pass the deadline")
    assert swept == [job_id]
    failed = wait_for(lambda: (s := speech(base_url, account.api_key, job_id))["status"] == "FAILED" and s, 60,
                      "the swept job to show FAILED")
    assert failed["error"].startswith("Timed out: ")
    assert ("started but never finished" if started else "accepted but never started") in failed["error"]
    wait_for(lambda: credits(base_url, account.api_key) == 1000, 60, "the held credits to come back")
    released = [e for e in ledger_events(account.account_id)
                if isinstance(e, ledger.ReservationReleased) and e.job_id == job_id]
    assert {e.reason for e in released} == {"timed_out"}
    wait_audit_clean(account.account_id)
    # A second sweep (a later tick, another worker) finds nothing left to do.
    wait_for(lambda: sweep(db, publisher, account.account_id) == [], 30, "the view to be ended for every sweep")


def test_the_sweeper_fails_a_job_whose_reservation_never_arrived(base_url, db, publisher):
    """The request was recorded but its reservation never reached a decision (lost, or dead-lettered with an
    unreadable job id): nothing is held, so nothing is charged and the release decides nothing."""
    account = new_account(base_url, 1000)
    job_id = f"cl{uuid.uuid4().hex[:24]}"
    record_request(db, account.account_id, job_id, 50)
    swept = wait_for(lambda: sweep(db, publisher, account.account_id), 30, "the job to pass the deadline")
    assert swept == [job_id]
    failed = wait_for(lambda: (s := speech(base_url, account.api_key, job_id))["status"] == "FAILED" and s, 60,
                      "the swept job to show FAILED")
    assert "its credit reservation was never decided" in failed["error"]
    assert credits(base_url, account.api_key) == 1000
    wait_audit_clean(account.account_id)
    assert not [e for e in ledger_events(account.account_id) if getattr(e, "job_id", None) == job_id]


def test_the_sweeper_fails_a_stuck_clone_job_and_the_voice_says_why(base_url, db, publisher):
    account = new_account(base_url, 1000)
    voice_id = str(uuid.uuid4())
    at = now()
    # The voice view the front door writes for a clone request (its reservation then never decided).
    mongo.apply_voice_transition(db, voice_id, jobs.PENDING_CREDITS, {}, {
        "accountId": account.account_id, "type": "USER", "isPublic": False, "title": "stuck", "tags": [],
        "usageCount": 0, "popularity": 0, "createdAt": at, "updatedAt": at})
    swept = wait_for(lambda: sweep(db, publisher, account.account_id), 30, "the clone job to pass the deadline")
    assert swept == [voice_id]
    wait_for(lambda: db.voices.find_one({"_id": voice_id})["state"] == jobs.FAILED, 60, "the voice to fail")
    voice = requests.get(f"{base_url}/v1/custom-voices/{voice_id}", headers={"X-API-Key": account.api_key},
                         timeout=10).json()
    assert voice["status"] == "failed", voice
    assert "its credit reservation was never decided" in db.voices.find_one({"_id": voice_id})["error"]
    assert credits(base_url, account.api_key) == 1000


def test_the_worker_s_own_timer_sweeps_a_stuck_job(session_env, tmp_path, monkeypatch):
    """The timer itself (streams/sweeper.py), not an in-process sweep: a worker of its own (own topics and
    database) with a deadline of 3 s and a tick every second fails a request whose reservation never came."""
    import sys

    from frontdoor import admin

    from .conftest import _start, free_port

    run = uuid.uuid4().hex[:8]
    overrides = {"KAFKA_TOPIC_PREFIX": f"sweep-{run}", "MONGO_DB": f"voiceforge_sweep_{run}",
                 "WORKER_WEB_PORT": str(free_port()), "JOB_DEADLINE_S": "3", "JOB_SWEEP_INTERVAL_S": "1"}
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = load()
    sweep_db = admin.prepare(settings)  # its topics, indexes and system voices
    worker = _start("sweeping-worker", [sys.executable, "-m", "streams", "worker"], {**session_env, **overrides},
                    tmp_path, lambda: requests.get(f"http://127.0.0.1:{overrides['WORKER_WEB_PORT']}/",
                                                   timeout=2).status_code < 500, 120)
    try:
        job_id = f"cl{uuid.uuid4().hex[:24]}"
        record_request(sweep_db, f"acct_sweep_{run}", job_id, 50)
        wait_for(lambda: mongo.find_job(sweep_db, job_id)["state"] in jobs.TERMINAL, 60,
                 "the worker's sweeper to fail the stuck request")
        ended = sweep_db.speeches.find_one({"_id": job_id})
        assert ended["state"] == jobs.FAILED
        assert "its credit reservation was never decided" in ended["error"]
        wait_for(lambda: f"job {job_id} of acct_sweep_{run} was stuck" in worker.log_path.read_text(errors="replace"),
                 10, "the sweeper's log line")
    finally:
        worker.stop()
