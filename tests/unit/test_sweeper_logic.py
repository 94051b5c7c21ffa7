"""The sweeper's and the ledger agent's decisions that end jobs which would otherwise never end (pure)."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

import ledger
from schemas import jobs
from schemas import messages as msg
from streams.sweeper_logic import UNDECIDABLE_REASON, is_stuck, stuck_reason, stuck_settlement, undecidable_reservation

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
DEADLINE_S = 1200.0


def view(state: str | None = jobs.QUEUED, age_s: float = 1300, **extra) -> dict:
    return {"_id": "cl1", "accountId": "acc1", "kind": "tts", "state": state,
            "createdAt": NOW - timedelta(seconds=age_s), **extra}


@pytest.mark.parametrize("state", sorted(jobs.UNFINISHED))
def test_an_unfinished_job_past_the_deadline_is_failed_and_released(state):
    settlement = stuck_settlement(view(state), NOW, DEADLINE_S)
    [(failed, failed_envelope), (release, release_envelope)] = settlement
    assert isinstance(failed, msg.JobFailed) and (failed.job_id, failed.account_id) == ("cl1", "acc1")
    assert failed.reason == stuck_reason(state, DEADLINE_S) and "no credits were charged" in failed.reason
    assert isinstance(release, msg.ReleaseJobCredits) and release.job_id == "cl1"
    assert release.reason == ledger.ReleaseReason.TIMED_OUT.value
    # Fixed ids: two workers or two ticks publish the same envelopes and the same ledger command.
    again = stuck_settlement(view(state), NOW + timedelta(seconds=30), DEADLINE_S)
    assert [e.id for _, e in again] == [failed_envelope.id, release_envelope.id]
    assert again[1][0].command_id == release.command_id != msg.ReleaseJobCredits.for_job(
        msg.OtherJob(kind="tts", job_id="cl1", account_id="acc1", credits_used=1)).command_id


@pytest.mark.parametrize("state", sorted(jobs.TERMINAL))
def test_an_ended_job_is_left_alone(state):
    assert stuck_settlement(view(state), NOW, DEADLINE_S) == []


def test_a_job_within_its_deadline_is_left_alone():
    assert stuck_settlement(view(age_s=DEADLINE_S - 1), NOW, DEADLINE_S) == []
    assert is_stuck(view(age_s=DEADLINE_S), NOW, DEADLINE_S)


def test_a_view_without_a_time_or_an_owner_is_left_alone():
    assert stuck_settlement(view(createdAt=None), NOW, DEADLINE_S) == []
    assert stuck_settlement(view(accountId=None), NOW, DEADLINE_S) == []


def test_a_clone_job_is_failed_as_a_clone_job():
    [(failed, _), _release] = stuck_settlement(view(kind="clone"), NOW, DEADLINE_S)
    assert failed.kind == "clone"


def test_the_reason_says_where_the_job_stopped():
    assert "never decided" in stuck_reason(jobs.PENDING_CREDITS, 60)
    assert "never started" in stuck_reason(jobs.QUEUED, 60)
    assert "never finished" in stuck_reason(jobs.PROCESSING, 60)


def _reservation(payload: dict) -> bytes:
    return json.dumps({"name": "ReserveCreditsForJob", "version": 1, "id": "x", "occurredAt": "bad",
                       "payload": payload}).encode()


def test_an_undecidable_reservation_with_a_readable_job_fails_that_job():
    raw = _reservation({"accountId": "acc1", "jobId": "cl9", "amount": "lots", "job": {"kind": "clone"}})
    failed, envelope = undecidable_reservation(raw)
    assert (failed.job_id, failed.account_id, failed.kind) == ("cl9", "acc1", "clone")
    assert failed.reason == UNDECIDABLE_REASON and envelope.id == "undecidable:cl9"


def test_the_job_id_may_come_from_the_job_alone():
    failed, _ = undecidable_reservation(_reservation({"job": {"jobId": "cl9", "accountId": "acc1"}}))
    assert (failed.job_id, failed.account_id, failed.kind) == ("cl9", "acc1", "tts")


@pytest.mark.parametrize("raw", [
    None, b"", b"not json", b"[" * 100_000, b'{"name": "GrantCredits", "payload": {"jobId": "a", "accountId": "b"}}',
    _reservation({"accountId": "acc1"}), _reservation({"jobId": "cl9"}), _reservation({"jobId": 5, "accountId": "a"}),
    json.dumps({"name": "ReserveCreditsForJob", "payload": "text"}).encode(),
])
def test_nothing_is_failed_when_the_job_cannot_be_told(raw):
    assert undecidable_reservation(raw) is None
