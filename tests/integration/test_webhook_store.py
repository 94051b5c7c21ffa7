"""The webhook delivery log as retry schedule, on the real MongoDB (a database of its own, so the stack's workers,
which poll the log, never see these deliveries): an attempt is taken up by one worker only, and again once a
killed worker's lease runs out; a due retry is claimed for queueing by one poller until its claim runs out;
deleting an endpoint cancels its pending deliveries at once, except one in flight; an endpoint holds at most its
cap of attempt slots, however many workers race for them, and an attempt without a slot is put off."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from adapters import mongo, webhook_store
from schemas import messages as msg
from service_config import load
from streams import webhook_delivery_logic as logic

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
LEASE = timedelta(seconds=15)


@pytest.fixture()
def db(session_env):
    main = mongo.connect(load())
    own = main.client[f"webhook_store_test_{uuid.uuid4().hex[:8]}"]
    webhook_store.ensure_indexes(own)
    yield own
    main.client.drop_database(own.name)


def _endpoint(db, account_id: str = "acct") -> dict:
    endpoint = {"_id": f"wh{uuid.uuid4().hex[:12]}", "accountId": account_id, "url": "https://hooks.example.com/x",
                "events": [], "secret": "whsec_s", "createdAt": T0, "deletedAt": None}
    webhook_store.insert_endpoint(db, endpoint)
    return endpoint


def _delivery(db, endpoint: dict) -> str:
    completed = msg.SpeechCompleted(job_id="cl1", speech_id="cl1", account_id=endpoint["accountId"], api=None,
                                    voice_id="sys_slt", credits_charged=2, timings=None, request_id=None,
                                    format="mp3", audio_key="k", duration=1.0, mime_type="audio/mpeg")
    envelope = completed.envelope()
    doc, _first = logic.plan_delivery(envelope, completed, envelope.encode().decode(), endpoint, T0)
    assert webhook_store.create_delivery(db, doc)
    return doc["_id"]


def _fail(db, delivery_id: str, attempt: int, next_at: datetime) -> None:
    record = logic.attempt_record(attempt, T0, 500, None, 3)
    assert webhook_store.record_attempt(db, delivery_id, record, "pending", next_at, T0)


def _race(calls: int, call) -> list:
    with ThreadPoolExecutor(calls) as pool:
        return [r for r in pool.map(lambda _: call(), range(calls)) if r]


def test_an_attempt_is_taken_up_by_one_worker_only_and_again_after_a_killed_worker_s_lease(db):
    delivery_id = _delivery(db, _endpoint(db))
    won = _race(8, lambda: webhook_store.claim_attempt(db, delivery_id, 1, T0, T0 + LEASE))
    assert len(won) == 1 and won[0]["_id"] == delivery_id and "attempts" not in won[0]
    assert webhook_store.claim_attempt(db, delivery_id, 1, T0 + LEASE - timedelta(seconds=1), T0 + 2 * LEASE) is None
    # Its worker was killed: once the lease has run out, the attempt is anybody's again (at least once).
    assert webhook_store.claim_attempt(db, delivery_id, 1, T0 + LEASE, T0 + 2 * LEASE) is not None

    _fail(db, delivery_id, 1, next_at=T0 + timedelta(minutes=10))
    after = T0 + 3 * LEASE
    assert webhook_store.claim_attempt(db, delivery_id, 1, after, after + LEASE) is None   # made already
    assert webhook_store.claim_attempt(db, delivery_id, 2, after, after + LEASE) is None   # not due yet
    assert webhook_store.claim_attempt(db, delivery_id, 3, T0 + timedelta(minutes=10), T0 + LEASE) is None
    due = T0 + timedelta(minutes=10)
    assert webhook_store.claim_attempt(db, delivery_id, 2, due - timedelta(seconds=1), due + LEASE,
                                       early_s=2.0) is not None  # a worker whose clock is a little behind


def test_a_due_retry_is_queued_by_one_poller_until_its_claim_runs_out(db):
    endpoint = _endpoint(db)
    first, second = _delivery(db, endpoint), _delivery(db, endpoint)
    # The fan-out queued both first attempts: the log does not queue them again while that message may be waiting.
    assert webhook_store.claim_due(db, T0 + timedelta(seconds=30), T0 + timedelta(seconds=90), 10) == []
    assert webhook_store.claim_attempt(db, first, 1, T0, T0 + LEASE) is not None
    _fail(db, first, 1, next_at=T0 + timedelta(minutes=5))
    _fail(db, second, 1, next_at=T0 + timedelta(minutes=2))

    assert webhook_store.claim_due(db, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2), 10) == []
    at = T0 + timedelta(minutes=6)
    one = webhook_store.claim_due(db, at, at + timedelta(seconds=60), 1)
    assert [d["_id"] for d in one] == [second]  # the longest due first, at most the limit
    claimed = _race(4, lambda: webhook_store.claim_due(db, at, at + timedelta(seconds=60), 10))
    assert [d["_id"] for batch in claimed for d in batch] == [first]  # by one poller only
    assert logic.due_attempt(one[0], at).attempt == 2 and "attempts" not in one[0]
    assert webhook_store.claim_due(db, at + timedelta(seconds=59), at + timedelta(minutes=2), 10) == []
    again = webhook_store.claim_due(db, at + timedelta(seconds=60), at + timedelta(minutes=2), 10)
    assert sorted(d["_id"] for d in again) == sorted([first, second])  # the messages were lost: queued again

    # Taken up: not queued while in flight, nor once it has succeeded.
    later = at + timedelta(minutes=3)
    assert webhook_store.claim_attempt(db, second, 2, later, later + LEASE) is not None
    assert [d["_id"] for d in webhook_store.claim_due(db, later, later + LEASE, 10)] == [first]
    record = logic.attempt_record(2, later, 200, None, 3)
    assert webhook_store.record_attempt(db, second, record, "succeeded", None, later)
    end = later + timedelta(hours=1)
    assert [d["_id"] for d in webhook_store.claim_due(db, end, end + LEASE, 10)] == [first]


def test_deleting_an_endpoint_cancels_its_pending_deliveries_except_one_in_flight(db):
    endpoint, other = _endpoint(db), _endpoint(db)
    waiting, in_flight, done, others = (_delivery(db, endpoint), _delivery(db, endpoint), _delivery(db, endpoint),
                                        _delivery(db, other))
    _fail(db, waiting, 1, next_at=T0 + timedelta(hours=1))
    assert webhook_store.claim_attempt(db, in_flight, 1, T0, T0 + timedelta(hours=1)) is not None
    assert webhook_store.record_attempt(db, done, logic.attempt_record(1, T0, 204, None, 2), "succeeded", None, T0)

    assert webhook_store.delete_endpoint(db, "acct", endpoint["_id"], T0 + timedelta(minutes=1))
    status = {d: webhook_store.find_delivery(db, d)["status"] for d in (waiting, in_flight, done, others)}
    assert status == {waiting: "cancelled", in_flight: "pending", done: "succeeded", others: "pending"}
    assert webhook_store.find_delivery(db, waiting)["nextRetryAt"] is None
    assert not webhook_store.delete_endpoint(db, "acct", endpoint["_id"], T0)  # once


def test_an_endpoint_s_failed_deliveries_are_counted_atomically_until_one_succeeds(db):
    endpoint = _endpoint(db)
    counted = _race(8, lambda: webhook_store.note_outcome(db, endpoint["_id"], False, T0))   # 8 workers at once
    assert sorted(e["failedInARow"] for e in counted) == list(range(1, 9))
    later = webhook_store.note_outcome(db, endpoint["_id"], False, T0 + timedelta(hours=1))
    assert later["failedInARow"] == 9 and later["failingSince"] == T0    # the run's first failure is kept
    assert webhook_store.note_outcome(db, endpoint["_id"], True, T0) is None
    stored = webhook_store.find_endpoint(db, endpoint["_id"])
    assert stored["failedInARow"] == 0 and stored["failingSince"] is None
    again = webhook_store.note_outcome(db, endpoint["_id"], False, T0 + timedelta(hours=2))
    assert again["failedInARow"] == 1 and again["failingSince"] == T0 + timedelta(hours=2)


def test_disabling_an_endpoint_cancels_its_pending_deliveries_and_enabling_forgets_its_failures(db):
    endpoint, other = _endpoint(db), _endpoint(db)
    waiting, in_flight, others = _delivery(db, endpoint), _delivery(db, endpoint), _delivery(db, other)
    _fail(db, waiting, 1, next_at=T0 + timedelta(hours=1))
    assert webhook_store.claim_attempt(db, in_flight, 1, T0, T0 + timedelta(hours=1)) is not None
    webhook_store.note_outcome(db, endpoint["_id"], False, T0)
    now = T0 + timedelta(minutes=1)

    assert webhook_store.disable_endpoint(db, endpoint["_id"], "why", now, account_id="another") is None
    done = webhook_store.disable_endpoint(db, endpoint["_id"], "why", now)
    assert done["disabledAt"] == now and done["disabledReason"] == "why"
    assert webhook_store.disable_endpoint(db, endpoint["_id"], "again", now) is None   # once
    status = {d: webhook_store.find_delivery(db, d)["status"] for d in (waiting, in_flight, others)}
    assert status == {waiting: "cancelled", in_flight: "pending", others: "pending"}
    assert webhook_store.find_delivery(db, waiting)["error"] == webhook_store.WEBHOOK_DISABLED

    assert webhook_store.enable_endpoint(db, "another", endpoint["_id"]) is None   # another account's: untouched
    enabled = webhook_store.enable_endpoint(db, "acct", endpoint["_id"])
    assert enabled["disabledAt"] is None and enabled["disabledReason"] is None and enabled["failedInARow"] == 0
    webhook_store.note_outcome(db, endpoint["_id"], False, now)
    assert webhook_store.enable_endpoint(db, "acct", endpoint["_id"]) is None       # enabled: nothing reset
    assert webhook_store.find_endpoint(db, endpoint["_id"])["failedInARow"] == 1
    assert webhook_store.delete_endpoint(db, "acct", endpoint["_id"], now)
    assert webhook_store.enable_endpoint(db, "acct", endpoint["_id"]) is None      # deleted: stays deleted
    assert webhook_store.disable_endpoint(db, endpoint["_id"], "why", now) is None


def test_a_disable_by_the_service_is_owed_its_announcement_until_marked_and_one_by_request_never(db):
    by_service, by_request, gone, enabled_again = (_endpoint(db) for _ in range(4))
    now = T0 + timedelta(minutes=1)
    for endpoint in (by_service, gone, enabled_again):
        assert webhook_store.disable_endpoint(db, endpoint["_id"], "20 failed", now, announce=True)["unannounced"]
    assert "unannounced" not in webhook_store.disable_endpoint(db, by_request["_id"], "by hand", now,
                                                               account_id="acct")
    assert webhook_store.delete_endpoint(db, "acct", gone["_id"], now)
    assert webhook_store.enable_endpoint(db, "acct", enabled_again["_id"])   # its disable is no longer news
    assert webhook_store.unannounced_disables(db, now, 10) == []   # not before the grace has passed
    owed = webhook_store.unannounced_disables(db, now + timedelta(seconds=1), 10)
    assert [e["_id"] for e in owed] == [by_service["_id"]]
    webhook_store.mark_announced(db, by_service["_id"], now - timedelta(seconds=5))   # an older disable's: not this
    assert len(webhook_store.unannounced_disables(db, now + timedelta(seconds=1), 10)) == 1
    webhook_store.mark_announced(db, by_service["_id"], now)
    assert webhook_store.unannounced_disables(db, now + timedelta(seconds=1), 10) == []
    plan = db.webhook_endpoints.find({"unannounced": True, "disabledAt": {"$ne": None, "$lt": now},
                                      "deletedAt": None}).sort("disabledAt", 1).explain()["queryPlanner"]
    assert "unannounced_disables" in str(plan["winningPlan"])   # the poll reads the partial index, not every endpoint


def test_an_event_for_a_disabled_endpoint_is_logged_cancelled_and_can_be_redelivered(db):
    endpoint = _endpoint(db)
    completed = msg.SpeechCompleted(job_id="cl2", speech_id="cl2", account_id="acct", api=None, voice_id="sys_slt",
                                    credits_charged=2, timings=None, request_id=None, format="mp3", audio_key="k",
                                    duration=1.0, mime_type="audio/mpeg")
    envelope = completed.envelope()
    doc, _first = logic.plan_delivery(envelope, completed, envelope.encode().decode(), endpoint, T0)
    assert webhook_store.create_delivery(db, doc, cancelled=webhook_store.WEBHOOK_DISABLED)
    logged = webhook_store.find_delivery(db, doc["_id"])
    assert logged["status"] == "cancelled" and logged["nextRetryAt"] is None and logged["attemptCount"] == 0
    assert webhook_store.claim_due(db, T0 + timedelta(hours=1), T0 + timedelta(hours=2), 10) == []   # never made
    again = webhook_store.redeliver(db, "acct", endpoint["_id"], doc["_id"], T0)
    assert again["status"] == "pending" and again["nextRetryAt"] == T0


def test_an_endpoint_holds_at_most_its_cap_of_attempt_slots_over_all_workers(db):
    cap, until = 3, T0 + LEASE
    holders = [f"d{n}#1" for n in range(12)]
    with ThreadPoolExecutor(12) as pool:
        taken = list(pool.map(lambda h: webhook_store.take_endpoint_slot(db, "wh_a", h, T0, until, cap), holders))
    held = [(h, slot) for h, slot in zip(holders, taken, strict=True) if slot]
    assert len(held) == cap and len({slot for _h, slot in held}) == cap  # 12 racers, 3 distinct slots
    assert webhook_store.take_endpoint_slot(db, "wh_b", "x#1", T0, until, cap)  # another endpoint's are its own
    assert webhook_store.endpoint_slots_free_at(db, "wh_a") == until

    holder, slot = held[0]
    webhook_store.release_endpoint_slot(db, slot, "someone else#1")  # only its holder frees a slot
    assert webhook_store.take_endpoint_slot(db, "wh_a", "late#1", T0, until, cap) is None
    webhook_store.release_endpoint_slot(db, slot, holder)
    assert webhook_store.take_endpoint_slot(db, "wh_a", "late#1", T0, until, cap) == slot
    # A killed worker's slots lapse with their lease.
    assert len({webhook_store.take_endpoint_slot(db, "wh_a", f"next{n}#1", until, until + LEASE, cap)
                for n in range(cap)}) == cap


def test_an_attempt_without_a_slot_is_put_off_for_the_next_slot_holder_or_the_log(db):
    endpoint = _endpoint(db)
    first, second = _delivery(db, endpoint), _delivery(db, endpoint)
    later = T0 + timedelta(seconds=12)
    assert webhook_store.defer_attempt(db, first, 1, later, T0)
    doc = webhook_store.find_delivery(db, first)
    assert doc["deferredUntil"] == later and doc["nextRetryAt"] == T0 and doc["attemptCount"] == 0
    at = T0 + timedelta(seconds=5)
    assert webhook_store.has_deferred(db, endpoint["_id"], at)
    assert not webhook_store.has_deferred(db, _endpoint(db)["_id"], at)  # another webhook's
    taken = webhook_store.claim_deferred(db, endpoint["_id"], at)  # a slot holder takes it up next
    assert taken["_id"] == first and taken["deferredUntil"] is None and "attempts" not in taken
    assert webhook_store.claim_deferred(db, endpoint["_id"], at) is None and not webhook_store.has_deferred(
        db, endpoint["_id"], at)
    assert webhook_store.claim_attempt(db, first, 1, at, at + LEASE) is not None
    assert webhook_store.record_attempt(db, first, logic.attempt_record(1, at, 200, None, 5), "succeeded", None, at)

    # Nobody freed a slot: the log queues it again once its time is up.
    assert webhook_store.defer_attempt(db, second, 1, later, T0)
    assert webhook_store.claim_due(db, T0 + timedelta(seconds=11), T0 + timedelta(minutes=5), 10) == []  # put off
    assert [d["_id"] for d in webhook_store.claim_due(db, T0 + timedelta(minutes=2), T0 + timedelta(minutes=5),
                                                      10)] == [second]
    assert webhook_store.claim_attempt(db, second, 1, T0 + timedelta(minutes=2), T0 + timedelta(minutes=3))
    assert not webhook_store.defer_attempt(db, second, 1, later, T0 + timedelta(minutes=2))  # in flight: left alone
