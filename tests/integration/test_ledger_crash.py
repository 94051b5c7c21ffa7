"""A worker killed (SIGKILL) in the middle of a stream of reservations and captures, then restarted: every command
has the effect of once, nothing is lost, and the audit of the ledger topic is clean."""
from __future__ import annotations

import threading
from collections import defaultdict

import pytest

import ledger
from adapters import kafka
from schemas import events as ev
from schemas import messages
from service_config import load

from .conftest import wait_for
from .ledger_helpers import credit_view, ledger_events, new_account, now, wait_audit_clean, wait_requests_committed

pytestmark = pytest.mark.integration

JOBS = 250
PRICE, CHARGE = 3, 2  # each job reserves 3 credits and is captured for 2 (1 comes back)


def _job_requests(account_id: str, n: int) -> list[ev.Event]:
    """The requests the front door and the orchestrator would send for one job: reserve, then capture. The job is
    of a kind no stage runs (an OtherJob): only the ledger acts on it."""
    job_id = f"crash-{account_id}-{n}"
    job = messages.job_from_dict({
        "kind": "ledger-test", "jobId": job_id, "accountId": account_id, "text": "xyz", "format": "mp3",
        "voice": {"id": "sys_slt", "title": "Sally", "coverImage": None, "type": "SYSTEM"},
        "creditsUsed": PRICE, "createdAt": ev.iso_millis(now())})
    reserve = messages.ReserveCreditsForJob.for_job(job)
    capture = messages.CaptureJobCredits(command_id=f"capture:{job_id}", account_id=account_id, job_id=job_id,
                                         amount=CHARGE)
    return [reserve.envelope(), capture.envelope()]


def test_a_worker_killed_mid_stream_and_restarted_charges_every_job_once(base_url, app_processes, restart_workers):
    account = new_account(base_url, credits=10_000)
    account_id = account.account_id
    publisher = kafka.EventPublisher(load())
    published = threading.Event()

    def send_all():
        try:
            for n in range(JOBS):
                for request in _job_requests(account_id, n):
                    publisher.publish(ev.TOPIC_REQUESTS, account_id, request)
        finally:
            published.set()

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    # Kill while the agent is deciding this account's commands (some decided, many still to come).
    wait_for(lambda: (credit_view(account_id) or {}).get("sequence", 0) >= 40, 30, "the agent to be mid-stream")
    decided_before_kill = credit_view(account_id)["sequence"]
    restart_workers()
    assert published.wait(60), "the requests could not all be published"
    sender.join(5)
    publisher.close()

    expected_sequence = 1 + 2 * JOBS  # opened, then one reservation and one capture per job
    try:
        wait_for(lambda: (credit_view(account_id) or {}).get("sequence") == expected_sequence, 60,
                 "every command to be decided after the restart")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nview: {credit_view(account_id)}\n--- worker log ---\n"
                             f"{app_processes['workers'].log_tail(80)}") from None

    events = ledger_events(account_id)
    distinct = {e.event_id: e for e in events}
    by_sequence = defaultdict(set)
    for e in events:
        by_sequence[e.sequence].add(e.event_id)
    assert all(len(ids) == 1 for ids in by_sequence.values()), "two different events share a sequence"
    assert sorted(by_sequence) == list(range(1, expected_sequence + 1)), "events are missing"
    reserved = defaultdict(int)
    captured = defaultdict(int)
    for e in distinct.values():
        if isinstance(e, ledger.CreditsReserved):
            reserved[e.job_id] += 1
        elif isinstance(e, ledger.ReservationCaptured):
            captured[e.job_id] += 1
        elif not isinstance(e, ledger.AccountOpened):
            pytest.fail(f"unexpected {type(e).__name__}: {e}")
    jobs = {f"crash-{account_id}-{n}" for n in range(JOBS)}
    assert set(reserved) == jobs and set(reserved.values()) == {1}, "a reservation was lost or doubled"
    assert set(captured) == jobs and set(captured.values()) == {1}, "a capture was lost or doubled"

    view = credit_view(account_id)
    assert (view["credits"], view["reserved"]) == (10_000 - CHARGE * JOBS, 0)
    audit = wait_audit_clean(account_id)

    # Every reservation request was answered (accepted); a redelivered one is answered again, identically.
    answers = defaultdict(list)
    for _p, _o, key, value in kafka.read_topic(load(), ev.TOPIC_JOBS):
        if key is not None and key.decode() in jobs:
            reply = ev.decode(value)
            if reply.name in (messages.JobAccepted.WIRE_NAME, messages.JobRejected.WIRE_NAME):
                answers[key.decode()].append((reply.name, reply.id))
    assert set(answers) == jobs
    assert all(set(a) == {(messages.JobAccepted.WIRE_NAME, f"accepted:{job}")} for job, a in answers.items())

    # The workers' commit reaches the end of the account's partition: the messages Faust redelivered after the
    # restart and skipped (decided before the kill) do not hold it back until the next restart.
    partitions = {p for p, _o, key, _v in kafka.read_topic(load(), ev.TOPIC_REQUESTS) if key == account_id.encode()}
    wait_requests_committed(partitions, 30, "the workers to commit the account's partition to its end",
                            lambda: app_processes["workers"].log_tail(60))
    print(f"killed after {decided_before_kill} events; {sum(len(a) - 1 for a in answers.values())} requests "
          f"redelivered and answered again; {len(events) - len(distinct)} identical ledger re-appends, "
          f"{audit.accounts[account_id].duplicates} skipped by the audit")
