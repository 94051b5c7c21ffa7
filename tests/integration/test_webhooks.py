"""Webhooks on the real stack: registered through both surfaces, a real job's completion POSTed to a local receiver
(examples/webhook_receiver.py) that verifies each signature and fails the first attempts, retried with backoff,
every attempt in the delivery log, survival of a worker restart, and refused private targets."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import uuid
from datetime import datetime
from pathlib import Path

import pytest
import requests

from .conftest import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _receiver_module():
    spec = importlib.util.spec_from_file_location("webhook_receiver_example", REPO / "examples" / "webhook_receiver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def receiver():
    started = []

    def start(**kwargs):
        made = _receiver_module().Receiver(**kwargs).start()
        started.append(made)
        return made

    yield start
    for made in started:
        if made.hold is not None:
            made.hold.set()
        made.stop()


def _headers(account) -> dict:
    return {"Authorization": f"Bearer {account.api_key}"}


def _register(base_url, account, url, prefix="/api/v1", **extra) -> requests.Response:
    return requests.post(f"{base_url}{prefix}/webhooks", headers=_headers(account), json={"url": url, **extra},
                         timeout=10)


def _speak(base_url, account, text="Signed and delivered.") -> str:
    resp = requests.post(f"{base_url}/api/v1/tts", headers=_headers(account),
                         json={"text": text, "voiceId": "sys_slt", "format": "mp3"}, timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.json()["speechId"]


def _log(base_url, account, webhook_id, prefix="/api/v1") -> list[dict]:
    resp = requests.get(f"{base_url}{prefix}/webhooks/{webhook_id}/deliveries", headers=_headers(account), timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["deliveries" if prefix == "/api/v1" else "items"]


def test_register_list_and_delete_on_both_surfaces(base_url, fresh_account, receiver):
    target = receiver()
    made = _register(base_url, fresh_account, target.url, description="mine", events=["speech.completed"])
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["webhook"]["events"] == ["speech.completed"]
    webhook_id = body["webhook"]["id"]
    listed = requests.get(f"{base_url}/api/v1/webhooks", headers=_headers(fresh_account), timeout=10).json()
    assert [w["id"] for w in listed["webhooks"]] == [webhook_id] and "secret" not in json.dumps(listed)
    v1 = requests.get(f"{base_url}/v1/webhooks", headers={"X-API-Key": fresh_account.api_key}, timeout=10).json()
    assert [w["id"] for w in v1["items"]] == [webhook_id] and v1["items"][0]["created_at"].endswith("Z")
    second = _register(base_url, fresh_account, target.url, prefix="/v1")
    assert second.status_code == 201 and second.json()["secret"] != body["secret"]

    other = requests.delete(f"{base_url}/api/v1/webhooks/{webhook_id}", timeout=10,
                            headers={"Authorization": "Bearer not-a-key"})
    assert other.status_code == 401
    gone = requests.delete(f"{base_url}/v1/webhooks/{second.json()['id']}",
                           headers={"X-API-Key": fresh_account.api_key}, timeout=10)
    assert gone.json() == {"id": second.json()["id"], "deleted": True}
    assert requests.delete(f"{base_url}/api/v1/webhooks/{webhook_id}", headers=_headers(fresh_account),
                           timeout=10).json() == {"success": True}
    again = requests.delete(f"{base_url}/api/v1/webhooks/{webhook_id}", headers=_headers(fresh_account), timeout=10)
    assert again.status_code == 404 and again.json()["code"] == "NOT_FOUND"
    bad = _register(base_url, fresh_account, "ftp://example.com/x")
    assert bad.status_code == 400 and bad.json()["code"] == "INVALID_PARAMETERS"
    for prefix in ("/api/v1", "/v1"):   # an event name that is not one of ours, beside one that is
        unknown = _register(base_url, fresh_account, target.url, prefix=prefix,
                            events=["webhook.disabled", "webhook.deleted"])
        assert unknown.status_code == 400 and unknown.json()["code"] == "INVALID_PARAMETERS", (prefix, unknown.text)

    spec = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()
    for path in ("/api/v1/webhooks", "/v1/webhooks", "/api/v1/webhooks/{webhook_id}/deliveries",
                 "/v1/webhooks/{webhook_id}/deliveries"):
        assert path in spec["paths"]


def test_a_rotated_secret_signs_with_both_secrets_for_its_grace_period(base_url, fresh_account, receiver):
    target = receiver()
    made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
    hook = made["webhook"]["id"]
    target.secret = made["secret"]  # the receiver still checks the first secret

    def accepted(speech_id):
        return wait_for(lambda: next((e for e in target.events.values() if e["correlationId"] == speech_id), None),
                        60, "the receiver to accept the speech's event")

    rotated = requests.post(f"{base_url}/api/v1/webhooks/{hook}/rotate-secret", headers=_headers(fresh_account),
                            timeout=10)  # no body: the previous secret stays valid 24 h
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != made["secret"]
    until = _seconds(rotated.json()["webhook"]["previousSecretExpiresAt"])
    assert 86400 - 60 <= until - datetime.now().timestamp() <= 86400
    accepted(_speak(base_url, fresh_account, "Signed with the old secret too."))
    target.secret = new_secret  # the receiver switched over
    accepted(_speak(base_url, fresh_account, "Signed with the new secret."))

    v1_headers = {"X-API-Key": fresh_account.api_key}
    for bad in ({"previous_secret_valid_for": -1}, {"previous_secret_valid_for": 604801},
                {"previous_secret_valid_for": "soon"}):
        refused = requests.post(f"{base_url}/v1/webhooks/{hook}/rotate-secret", headers=v1_headers, json=bad,
                                timeout=10)
        assert refused.status_code == 400 and refused.json()["code"] == "INVALID_PARAMETERS", refused.text
    assert requests.post(f"{base_url}/v1/webhooks/wh_nope/rotate-secret", headers=v1_headers,
                         timeout=10).status_code == 404
    at_once = requests.post(f"{base_url}/v1/webhooks/{hook}/rotate-secret", headers=v1_headers,
                            json={"previous_secret_valid_for": 0}, timeout=10)
    assert at_once.status_code == 200 and at_once.json()["previous_secret_expires_at"] is None, at_once.text
    listed = requests.get(f"{base_url}/api/v1/webhooks", headers=_headers(fresh_account), timeout=10).json()
    assert listed["webhooks"][0]["previousSecretExpiresAt"] is None and "secret" not in json.dumps(listed)
    speech_id = _speak(base_url, fresh_account, "Only the newest secret now.")
    wait_for(lambda: any(not r["verified"] and speech_id.encode() in r["body"] for r in target.requests), 60,
             "a delivery the receiver on the retired secret refuses")
    target.secret = at_once.json()["secret"]
    accepted(speech_id)  # the retry, signed with the newest secret


def test_a_job_s_event_is_signed_retried_with_backoff_and_logged(base_url, fresh_account, receiver):
    target = receiver(fail_first=2)
    made = _register(base_url, fresh_account, target.url).json()
    target.secret = made["secret"]  # the receiver verifies with the secret shown once
    speech_id = _speak(base_url, fresh_account)

    event = wait_for(lambda: next((e for e in target.events.values() if e["correlationId"] == speech_id), None),
                     120, "the speech's event to be accepted by the receiver")
    assert event["name"] == "speech.completed" and event["payload"]["accountId"] == fresh_account.account_id
    tries = [r for r in target.requests if r["eventId"] == event["id"]]
    assert [r["attempt"] for r in tries] == [1, 2, 3] and all(r["verified"] for r in tries)
    assert [r["status"] for r in tries] == [500, 500, 200]
    assert tries[1]["at"] - tries[0]["at"] >= 0.25 and tries[2]["at"] - tries[1]["at"] >= 0.5  # backoff (jittered)

    def logged():
        deliveries = [d for d in _log(base_url, fresh_account, made["webhook"]["id"]) if d["eventId"] == event["id"]]
        return deliveries[0] if deliveries and deliveries[0]["status"] == "succeeded" else None

    delivery = wait_for(logged, 30, "the delivery log to show the success")
    assert [a["statusCode"] for a in delivery["attempts"]] == [500, 500, 200]
    assert delivery["attemptCount"] == 3 and delivery["nextRetryAt"] is None and delivery["jobId"] == speech_id
    v1 = _log(base_url, fresh_account, made["webhook"]["id"], prefix="/v1")
    assert v1[0]["attempts"][0]["status_code"] == 500 and v1[0]["event_id"] == event["id"]


def test_a_failing_receiver_shows_the_next_retry_then_gives_up_and_can_be_sent_again(base_url, fresh_account, receiver):
    target = receiver(fail_first=100)
    made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
    target.secret = made["secret"]
    speech_id = _speak(base_url, fresh_account, "Nobody is listening.")

    def pending_with_retry():
        deliveries = [d for d in _log(base_url, fresh_account, made["webhook"]["id"]) if d["jobId"] == speech_id]
        return deliveries and deliveries[0]["status"] == "pending" and deliveries[0]["nextRetryAt"]

    wait_for(pending_with_retry, 120, "a pending delivery with its next retry")

    def given_up():
        deliveries = [d for d in _log(base_url, fresh_account, made["webhook"]["id"]) if d["jobId"] == speech_id]
        return deliveries[0] if deliveries and deliveries[0]["status"] == "failed" else None

    delivery = wait_for(given_up, 60, "the delivery to give up after its last attempt")
    assert delivery["attemptCount"] == 6 and delivery["nextRetryAt"] is None  # WEBHOOK_MAX_ATTEMPTS=6 (conftest)
    assert {a["statusCode"] for a in delivery["attempts"]} == {500}

    # The receiver is fixed: the account sends the failed delivery again, by hand.
    target.fail_first = 0
    hook = made["webhook"]["id"]
    again = requests.post(f"{base_url}/api/v1/webhooks/{hook}/deliveries/{delivery['id']}/redeliver",
                          headers=_headers(fresh_account), timeout=10)
    assert again.status_code == 202 and again.json()["delivery"]["status"] == "pending", again.text
    twice = requests.post(f"{base_url}/v1/webhooks/{hook}/deliveries/{delivery['id']}/redeliver",
                          headers={"X-API-Key": fresh_account.api_key}, timeout=10)
    assert twice.status_code == 400 and twice.json()["code"] == "INVALID_PARAMETERS"  # already scheduled
    delivered = wait_for(lambda: next((d for d in _log(base_url, fresh_account, hook)
                                       if d["id"] == delivery["id"] and d["status"] == "succeeded"), None),
                         30, "the redelivery to succeed")
    assert [a["statusCode"] for a in delivered["attempts"]] == [500] * 6 + [200]
    assert delivery["eventId"] in target.events

    # A succeeded one can be sent again too (/v1), by its own account only.
    other = requests.post(f"{base_url}/v1/webhooks/{hook}/deliveries/{delivery['id']}/redeliver",
                          headers={"X-API-Key": "vf_not_a_key"}, timeout=10)
    assert other.status_code == 401
    missing = requests.post(f"{base_url}/v1/webhooks/{hook}/deliveries/nope.{hook}/redeliver",
                            headers={"X-API-Key": fresh_account.api_key}, timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"
    v1 = requests.post(f"{base_url}/v1/webhooks/{hook}/deliveries/{delivery['id']}/redeliver",
                       headers={"X-API-Key": fresh_account.api_key}, timeout=10)
    assert v1.status_code == 202 and v1.json()["status"] == "pending" and v1.json()["attempt_count"] == 7
    wait_for(lambda: sum(1 for r in target.requests if r["eventId"] == delivery["eventId"]) == 8, 30,
             "the second redelivery to reach the receiver")


def test_a_webhook_whose_deliveries_keep_failing_is_disabled_until_its_account_enables_it(base_url, fresh_account,
                                                                                         receiver):
    """WEBHOOK_DISABLE_AFTER_FAILURES=3 and WEBHOOK_DISABLE_AFTER_S=0 (conftest): the third delivery in a row that
    fails after its last attempt disables the webhook, and the account's other webhook hears of it
    (webhook.disabled); an event meanwhile is logged cancelled and not sent; once enabled, it can be redelivered.
    The account can also disable it by hand; another account can do neither."""
    from frontdoor import admin

    target = receiver(fail_first=10_000)
    made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
    target.secret = made["secret"]
    hook = made["webhook"]["id"]
    watcher = receiver()
    watching = _register(base_url, fresh_account, watcher.url, prefix="/v1", events=["webhook.disabled"])
    assert watching.status_code == 201 and watching.json()["events"] == ["webhook.disabled"], watching.text
    watcher.secret = watching.json()["secret"]
    assert made["webhook"]["enabled"] is True and made["webhook"]["failedDeliveriesInARow"] == 0
    speeches = {_speak(base_url, fresh_account, f"Nobody is home, number {n}.") for n in range(3)}

    def webhook() -> dict:
        listed = requests.get(f"{base_url}/api/v1/webhooks", headers=_headers(fresh_account), timeout=10)
        return next(w for w in listed.json()["webhooks"] if w["id"] == hook)

    disabled = wait_for(lambda: (lambda w: None if w["enabled"] else w)(webhook()), 120,
                        "the webhook to be disabled after its third failed delivery")
    assert disabled["failedDeliveriesInARow"] == 3 and disabled["disabledAt"]
    assert disabled["disabledReason"].startswith("3 deliveries in a row failed")
    announced = wait_for(lambda: next((e for e in list(watcher.events.values()) if e["name"] == "webhook.disabled"),
                                      None), 60, "the disable to be announced to the account's other webhook")
    assert announced["correlationId"] == hook and announced["id"] == f"webhook.disabled:{hook}:{disabled['disabledAt']}"
    assert {k: announced["payload"][k] for k in ("accountId", "webhookId", "url", "reason", "disabledAt",
                                                 "failedDeliveriesInARow")} == {
        "accountId": fresh_account.account_id, "webhookId": hook,
        "url": target.url, "reason": disabled["disabledReason"], "disabledAt": disabled["disabledAt"],
        "failedDeliveriesInARow": 3}
    assert [r["verified"] for r in watcher.requests] == [True]   # signed with its own secret; nothing else sent
    watched = wait_for(lambda: (lambda log: log if log and log[0]["status"] == "succeeded" else None)(
        _log(base_url, fresh_account, watching.json()["id"], prefix="/v1")), 30, "the watcher's delivery to be logged")
    assert [(d["event_name"], d["job_id"], d["event_id"]) for d in watched] == [
        ("webhook.disabled", None, announced["id"])]   # no job: the delivery log says so on /v1 too
    failed = [d for d in _log(base_url, fresh_account, hook) if d["jobId"] in speeches]
    assert len(failed) == 3 and all(d["status"] == "failed" and d["attemptCount"] == 6 for d in failed)
    asked = len(target.requests)

    later = _speak(base_url, fresh_account, "Said while the webhook is disabled.")
    missed = wait_for(lambda: next((d for d in _log(base_url, fresh_account, hook) if d["jobId"] == later), None),
                      60, "the event to be logged while the webhook is disabled")
    assert missed["status"] == "cancelled" and missed["attemptCount"] == 0 and missed["nextRetryAt"] is None
    refused = requests.post(f"{base_url}/api/v1/webhooks/{hook}/deliveries/{missed['id']}/redeliver",
                            headers=_headers(fresh_account), timeout=10)
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_PARAMETERS", refused.text

    stranger = admin.create_account_with_key(name="test", credits=10)
    for action in ("enable", "disable"):
        other = requests.post(f"{base_url}/v1/webhooks/{hook}/{action}", headers={"X-API-Key": stranger.api_key},
                              timeout=10)
        assert other.status_code == 404 and other.json()["code"] == "NOT_FOUND", other.text
    assert not webhook()["enabled"]

    target.fail_first = 0   # the receiver is fixed
    enabled = requests.post(f"{base_url}/v1/webhooks/{hook}/enable", headers={"X-API-Key": fresh_account.api_key},
                            timeout=10)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None
    assert enabled.json()["failed_deliveries_in_a_row"] == 0
    again = requests.post(f"{base_url}/api/v1/webhooks/{hook}/deliveries/{missed['id']}/redeliver",
                          headers=_headers(fresh_account), timeout=10)
    assert again.status_code == 202, again.text
    wait_for(lambda: any(d["id"] == missed["id"] and d["status"] == "succeeded"
                         for d in _log(base_url, fresh_account, hook)), 30, "the missed event to be redelivered")
    assert missed["eventId"] in target.events
    assert len(target.requests) == asked + 1   # nothing reached the receiver while the webhook was disabled

    by_hand = requests.post(f"{base_url}/api/v1/webhooks/{hook}/disable", headers=_headers(fresh_account), timeout=10)
    assert by_hand.status_code == 200 and by_hand.json()["webhook"]["enabled"] is False, by_hand.text
    assert by_hand.json()["webhook"]["disabledReason"] == "disabled through the API"
    back = requests.post(f"{base_url}/api/v1/webhooks/{hook}/enable", headers=_headers(fresh_account), timeout=10)
    assert back.status_code == 200 and back.json()["webhook"]["enabled"] is True


def test_a_disable_whose_worker_stopped_before_announcing_it_is_announced_by_a_later_poll(base_url, fresh_account,
                                                                                          receiver):
    """The worker that disables a webhook publishes webhook.disabled, then marks it announced. One that stopped in
    between leaves the endpoint ``unannounced`` (written here as it would have left it), and a worker's poll
    publishes the event once the disable is 30 s old."""
    from datetime import timedelta, timezone

    from adapters import mongo
    from service_config import load

    watcher, silent = receiver(), receiver()
    watching = _register(base_url, fresh_account, watcher.url, events=["webhook.disabled"]).json()
    watcher.secret = watching["secret"]
    gone = _register(base_url, fresh_account, silent.url, events=["speech.completed"]).json()["webhook"]["id"]
    db = mongo.connect(load())
    now = datetime.now(timezone.utc)
    disabled_at = now - timedelta(seconds=40)
    db.webhook_endpoints.update_one({"_id": watching["webhook"]["id"]}, {"$set": {"createdAt": now - timedelta(
        minutes=1)}})   # it saw the disable happen
    db.webhook_endpoints.update_one({"_id": gone}, {"$set": {
        "disabledAt": disabled_at, "disabledReason": "20 deliveries in a row failed", "failedInARow": 20,
        "failingSince": now - timedelta(days=1), "unannounced": True}})

    announced = wait_for(lambda: next(iter(watcher.events.values()), None), 60, "the owed disable to be announced")
    assert announced["name"] == "webhook.disabled" and announced["payload"]["webhookId"] == gone
    assert announced["payload"]["accountId"] == fresh_account.account_id
    assert announced["payload"]["failedDeliveriesInARow"] == 20 and announced["occurredAt"] == announced["payload"][
        "disabledAt"]
    wait_for(lambda: "unannounced" not in db.webhook_endpoints.find_one({"_id": gone}), 30,
             "the disable to be marked announced")
    assert silent.requests == []


def test_deleting_a_webhook_cancels_its_pending_retries(base_url, fresh_account, receiver):
    target = receiver(fail_first=100)
    made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
    target.secret = made["secret"]
    speech_id = _speak(base_url, fresh_account, "Stop sending.")
    webhook_id = made["webhook"]["id"]

    def pending():
        deliveries = [d for d in _log(base_url, fresh_account, webhook_id) if d["jobId"] == speech_id]
        return deliveries and deliveries[0]["status"] == "pending" and deliveries[0]["nextRetryAt"]

    wait_for(pending, 120, "a pending delivery")
    assert requests.delete(f"{base_url}/api/v1/webhooks/{webhook_id}", headers=_headers(fresh_account),
                           timeout=10).status_code == 200

    def cancelled():
        deliveries = [d for d in _log(base_url, fresh_account, webhook_id) if d["jobId"] == speech_id]
        return deliveries[0] if deliveries[0]["status"] == "cancelled" else None

    delivery = wait_for(cancelled, 30, "the pending retry to be cancelled")  # the log of a deleted webhook stays
    assert delivery["nextRetryAt"] is None
    assert len([r for r in target.requests if r["eventId"] == delivery["eventId"]]) == delivery["attemptCount"]


def test_receivers_that_ask_for_an_hour_hold_up_no_other_account_s_deliveries(base_url, fresh_account, receiver):
    """Retries waiting for their time hold no delivery actor (before, 16 of them held all 16): another account's
    event is delivered at once; deleting the endpoints cancels their retries."""
    busy = []
    for _ in range(10):  # the most an account may have; each receiver verifies its own endpoint's secret
        target = receiver(fail_first=100, retry_after=3600)
        made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
        target.secret = made["secret"]
        busy.append((target, made["webhook"]["id"]))
    speeches = {_speak(base_url, fresh_account, f"Come back in an hour, number {n}.") for n in (1, 2)}

    def asked_for_time():
        deliveries = [d for _t, hook in busy for d in _log(base_url, fresh_account, hook) if d["jobId"] in speeches]
        waiting = [d for d in deliveries if d["attemptCount"] == 1 and d["status"] == "pending" and d["nextRetryAt"]]
        return waiting if len(waiting) == 20 else None

    waiting = wait_for(asked_for_time, 120, "20 deliveries answered 503 with Retry-After: 3600")
    first_tries = {d["id"]: d["attempts"][0]["at"] for d in waiting}
    for d in waiting:  # the receiver's hour, not the test schedule's seconds
        gap = _seconds(d["nextRetryAt"]) - _seconds(first_tries[d["id"]])
        assert 3590 <= gap <= 3610, d
    assert all(d["attempts"][0]["statusCode"] == 503 for d in waiting)

    _another_account_s_event_is_delivered(base_url, receiver, 60, "while 20 retries wait for their hour")

    for _target, hook in busy:
        assert requests.delete(f"{base_url}/api/v1/webhooks/{hook}", headers=_headers(fresh_account),
                               timeout=10).status_code == 200
    ended = [d for _t, hook in busy for d in _log(base_url, fresh_account, hook) if d["jobId"] in speeches]
    assert {d["status"] for d in ended} == {"cancelled"} and len(ended) == 20  # at once, not in an hour
    assert sum(len(t.requests) for t, _hook in busy) == 20  # one attempt each


def test_a_receiver_that_hangs_holds_at_most_its_cap_of_attempts(base_url, fresh_account, receiver):
    """9 webhooks to receivers that never answer (each attempt times out after WEBHOOK_TIMEOUT_S = 5 s), 5 events
    each: never more than WEBHOOK_ENDPOINT_CONCURRENCY (3) attempts to one of them at once, the rest put off, not
    made; the account's healthy tenth webhook and another account's get their events meanwhile."""
    hanging = []
    for _ in range(9):
        target = receiver()
        target.hold = threading.Event()  # set when the test ends
        made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
        target.secret = made["secret"]
        hanging.append((target, made["webhook"]["id"]))
    sibling = receiver()
    made = _register(base_url, fresh_account, sibling.url, events=["speech.completed"]).json()
    sibling.secret = made["secret"]
    speeches = [_speak(base_url, fresh_account, f"Nobody answers, number {n}.") for n in range(5)]

    wait_for(lambda: {e["correlationId"] for e in sibling.events.values()} >= set(speeches), 60,
             "the healthy webhook to get all 5 events beside its 9 hanging siblings")
    wait_for(lambda: all(len(target.requests) >= 4 for target, _hook in hanging), 60,
             "a second round of attempts at each hanging receiver")
    for target, _hook in hanging:
        times = sorted(r["at"] for r in list(target.requests))
        # An attempt holds its slot until its timeout (5 s): within 4.5 s at most one arrival per slot.
        busiest = max(sum(1 for t in times if start <= t < start + 4.5) for start in times)
        assert busiest == 3, (busiest, times)  # 5 due at once: the cap is what holds 2 back

    _another_account_s_event_is_delivered(base_url, receiver, 30, "beside the hanging ones")
    for _target, hook in hanging:
        requests.delete(f"{base_url}/api/v1/webhooks/{hook}", headers=_headers(fresh_account), timeout=10)


def test_a_burst_to_a_slow_receiver_is_delivered_at_its_pace_three_at_a_time(base_url, fresh_account, receiver):
    """Attempts that find the webhook's 3 slots taken are put off and made by whoever frees a slot next, not
    left for the log's next look (which would come only after a receiver timeout, 5 s here)."""
    target = receiver()
    target.delay_s = 0.4
    made = _register(base_url, fresh_account, target.url, events=["speech.completed"]).json()
    target.secret = made["secret"]
    speeches = {_speak(base_url, fresh_account, f"Burst number {n}.") for n in range(12)}

    wait_for(lambda: {e["correlationId"] for e in target.events.values()} >= speeches, 90,
             "the 12 events of the burst to be delivered")
    times = sorted(r["at"] for r in target.requests)
    assert len(times) == 12  # each made once, none failed
    assert max(sum(1 for t in times if start <= t < start + 0.35) for start in times) <= 3  # 0.4 s each
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert max(gaps) < 3.0, gaps  # never waiting for the log's next look once a slot has freed


def _another_account_s_event_is_delivered(base_url, receiver, within_s: float, when: str) -> None:
    from frontdoor import admin

    other = admin.create_account_with_key(name="test", credits=1000)
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=_headers(other), timeout=5).json()["credits"]
             == 1000, 60, "the other account's credits to show")
    healthy = receiver()
    made = _register(base_url, other, healthy.url).json()
    healthy.secret = made["secret"]
    speech_id = _speak(base_url, other, "My receiver answers.")
    wait_for(lambda: any(e["correlationId"] == speech_id for e in healthy.events.values()), within_s,
             f"the other account's event to be delivered {when}")


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_delivery_in_flight_survives_a_worker_restart(base_url, fresh_account, receiver, restart_workers):
    target = receiver()
    target.hold = threading.Event()  # keep the first attempt in flight
    made = _register(base_url, fresh_account, target.url).json()
    target.secret = made["secret"]
    speech_id = _speak(base_url, fresh_account, "Survive the restart.")
    wait_for(lambda: any(json.loads(r["body"])["correlationId"] == speech_id for r in target.requests), 120,
             "the first attempt to reach the receiver")
    restart_workers()  # SIGKILL while the attempt waits for its answer: only Kafka knows of it now
    target.hold.set()

    def delivered():
        deliveries = [d for d in _log(base_url, fresh_account, made["webhook"]["id"]) if d["jobId"] == speech_id]
        return deliveries if deliveries and deliveries[0]["status"] == "succeeded" else None

    deliveries = wait_for(delivered, 150, "the delivery to succeed after the restart")
    # One delivery, though the restarted worker may fan the event out again (Faust's redelivery, its catch-up).
    assert len(deliveries) == 1, deliveries
    delivery = deliveries[0]
    assert any(e["correlationId"] == speech_id for e in target.events.values())
    assert sum(1 for r in target.requests if r["eventId"] == delivery["eventId"]) >= 2  # asked again after restart


def test_private_targets_are_refused_unless_the_operator_allows_them(fresh_account, extra_frontdoor, receiver):
    strict = extra_frontdoor("strict-webhooks", WEBHOOK_ALLOW_PRIVATE_TARGETS="0")
    target = receiver()
    for url in (target.url, target.url.replace("127.0.0.1", "localhost"), "http://169.254.169.254/latest/",
                "http://10.0.0.1/hook", "http://[::1]/hook"):
        resp = _register(strict, fresh_account, url)
        assert resp.status_code == 400, (url, resp.text)
        assert resp.json()["code"] == "INVALID_PARAMETERS" and "address" in resp.json()["error"]

    # At delivery time the address is checked again, on the connection's own DNS answer.
    from adapters import webhook_http

    outcome = asyncio.run(webhook_http.post(target.url.replace("127.0.0.1", "localhost"), b"{}", {},
                                            allow_private=False, timeout_s=5))
    assert outcome.status_code is None and outcome.error.startswith("refused")
    assert target.requests == []
    allowed = asyncio.run(webhook_http.post(target.url, b"{}", {"X-VoiceForge-Event-Id": uuid.uuid4().hex},
                                            allow_private=True, timeout_s=5))
    assert allowed.status_code == 401  # reached it: the receiver refuses an unsigned body
