"""The ledger's clock on the real stack (the session's worker looks every LEDGER_TIMER_INTERVAL_S = 1 s): a
reservation whose job never finishes is released after its timeout and its job fails; a monthly reset restores the
allowance, moves resetAt and leaves permanent credits alone."""
from __future__ import annotations

from datetime import timedelta

import pytest
import requests

import ledger
from adapters import mongo
from ledger.timestamps import format_millis
from schemas import jobs
from service_config import load
from streams.timer_logic import TIMED_OUT_REASON

from .conftest import wait_for
from .ledger_helpers import auth, credit_view, new_account, now, publish_commands, wait_audit_clean

pytestmark = pytest.mark.integration


def _history(base_url: str, key: str) -> list[dict]:
    return requests.get(f"{base_url}/api/v1/credits/history?limit=100", headers=auth(key), timeout=10).json()["items"]


def test_a_reservation_whose_job_never_finishes_is_released_and_the_job_fails(base_url, app_processes):
    account = new_account(base_url, credits=100)
    job_id = f"lost-{account.account_id}"
    # What the front door leaves behind for a job whose acceptance then got lost: a queued view, and credits held
    # for 2 seconds (the session's RESERVATION_TTL_S is the production default, so the hold is explicit here).
    created = now()
    mongo.apply_job_transition(mongo.connect(load()), job_id, jobs.QUEUED, {}, {
        "accountId": account.account_id, "kind": "tts", "text": "never spoken", "format": "mp3",
        "voice": {"id": "sys_slt", "title": "Sally", "coverImage": None, "type": "SYSTEM"}, "voiceId": "sys_slt",
        "creditsUsed": 30, "audioKey": None, "duration": None, "error": None, "createdAt": created,
        "updatedAt": created})
    publish_commands([ledger.Reserve(command_id=f"reserve:{job_id}", account_id=account.account_id, at=created,
                                     job_id=job_id, amount=30, expires_at=created + timedelta(seconds=2))])
    wait_for(lambda: (credit_view(account.account_id) or {}).get("sequence", 0) >= 3, 30,
             "the reservation and its expiry")  # opened #1, reserved #2, released #3
    view = credit_view(account.account_id)
    assert (view["credits"], view["reserved"]) == (100, 0)
    speech = wait_for(lambda: (lambda s: s if s["status"] == "FAILED" else None)(
        requests.get(f"{base_url}/api/v1/tts/{job_id}", headers=auth(account.api_key), timeout=10).json()["speech"]),
        30, "the job to be marked failed")
    assert speech["error"] == TIMED_OUT_REASON
    history = wait_for(lambda: (lambda h: h if len(h) == 3 else None)(_history(base_url, account.api_key)), 15,
                       "the usage history")
    assert [e["type"] for e in history] == ["release", "reservation", "grant"]
    assert history[0]["jobId"] == job_id and history[0]["reason"] == "expired" and history[0]["amount"] == 30
    wait_audit_clean(account.account_id)


def test_a_monthly_reset_restores_the_allowance_and_keeps_permanent_credits(base_url, app_processes):
    from frontdoor import admin

    first_reset = now() + timedelta(seconds=15)  # time enough to spend credits first, even on a busy machine
    account = new_account(base_url, credits=100, first_reset_at=first_reset)
    outcome = admin.grant(account.account_id, 50, "permanent", "purchase", wait_s=20)
    assert outcome.entry is not None
    at = now()
    publish_commands([
        ledger.Reserve(command_id="reserve:r1", account_id=account.account_id, at=at, job_id="r1", amount=130,
                       expires_at=at + timedelta(minutes=15)),
        ledger.Capture(command_id="capture:r1", account_id=account.account_id, at=at, job_id="r1", amount=130),
    ])
    # Regular credits are spent first: 100 regular + 30 of the 50 permanent.
    wait_for(lambda: (credit_view(account.account_id) or {}).get("breakdown", {}).get("permanent") == 20, 30,
             "the capture to show")
    before = credit_view(account.account_id)
    assert before["breakdown"]["regular"] == 0 and before["breakdown"]["resetAt"] == format_millis(first_reset)

    next_reset = format_millis(ledger.add_months(first_reset, 1))
    body = wait_for(lambda: (lambda b: b if b["breakdown"]["resetAt"] == next_reset else None)(
        requests.get(f"{base_url}/api/v1/credits", headers=auth(account.api_key), timeout=10).json()),
        30, "the monthly reset")
    assert body == {"success": True, "credits": 120,
                    "breakdown": {"regular": 100, "permanent": 20, "resetAt": next_reset}}
    reset = [e for e in _history(base_url, account.api_key) if e["type"] == "reset"]
    assert len(reset) == 1 and reset[0]["amount"] == 100 and reset[0]["forfeited"] == 0
    wait_audit_clean(account.account_id)


def test_a_clone_whose_reservation_expires_fails_and_is_never_charged(base_url, app_processes):
    """The expiry policy finds clone jobs too (their view is the USER voice): before, it looked only at speeches,
    so a clone still running at its expiry later completed with its credits released — a free voice."""
    account = new_account(base_url, credits=100)
    voice_id = f"clexp{account.account_id[-12:]}"
    created = now()
    db = mongo.connect(load())
    # The voice as the clone stage leaves it while enrolling; credits held for 2 seconds.
    db.voices.insert_one({"_id": voice_id, "accountId": account.account_id, "type": "USER", "title": "slow clone",
                          "state": jobs.PROCESSING, "status": "PROCESSING", "createdAt": created,
                          "updatedAt": created})
    publish_commands([ledger.Reserve(command_id=f"reserve:{voice_id}", account_id=account.account_id, at=created,
                                     job_id=voice_id, amount=40, expires_at=created + timedelta(seconds=2))])
    voice = wait_for(lambda: (lambda v: v if v and v.get("state") in jobs.TERMINAL else None)(
        db.voices.find_one({"_id": voice_id})), 30, "the clone to be failed at its expiry")
    assert voice["state"] == jobs.FAILED and voice["error"] == TIMED_OUT_REASON
    view = credit_view(account.account_id)
    assert (view["credits"], view["reserved"]) == (100, 0)
    wait_audit_clean(account.account_id)
