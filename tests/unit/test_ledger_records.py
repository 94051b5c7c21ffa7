"""The partition owner's small records (ledger/records.py) decide exactly like the whole state, and a crash at any
point between its writes is repaired by redelivering the command."""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger import (
    Capture,
    DomainError,
    GrantCredits,
    InvalidCommand,
    OpenAccount,
    Reserve,
    apply_command,
    decide,
    evolve,
    records,
    replay,
)
from ledger.snapshot import state_to_dict
from tests.unit.test_ledger_properties import SETTINGS, command_sequences

AT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def decide_with_records(table: dict, command):
    state = records.decision_state(command.account_id, command.command_id, getattr(command, "job_id", None),
                                   table.get)
    events = decide(state, command)
    after = state
    for event in events:
        after = evolve(after, event)
    return events, after, records.records_after(after, events) if events else []


def core_only(state):
    return dataclasses.replace(state, ended_reservations={}, applied_command_ids=frozenset())


@SETTINGS
@given(command_sequences())
def test_records_decide_every_command_like_the_whole_state(commands):
    table: dict[bytes, bytes] = {}
    whole: dict = {}
    for command in commands:
        try:
            expected, whole_after = apply_command(whole.get(command.account_id), command)
        except DomainError as exc:
            with pytest.raises(type(exc)):
                decide_with_records(table, command)
            continue
        events, after, written = decide_with_records(table, command)
        assert events == expected
        for key, value in written:
            table[key] = value
        if whole_after is not None:
            whole[command.account_id] = whole_after
            stored = records.core_from_bytes(table[records.core_key(command.account_id)])
            assert stored == core_only(whole_after)
            job_id = getattr(command, "job_id", None)
            if job_id is not None:  # the reply to a (re)delivered reservation request is the same
                assert after.reservation_outcome(job_id) == whole_after.reservation_outcome(job_id)


@SETTINGS
@given(command_sequences(), st.data())
def test_a_crash_between_the_writes_of_a_command_is_repaired_by_its_redelivery(commands, data):
    table: dict[bytes, bytes] = {}
    ledger_log: list = []
    for command in commands:
        try:
            events, _after, written = decide_with_records(table, command)
        except DomainError:
            continue
        ledger_log.extend(events)  # appended before any record is written
        if written and data.draw(st.booleans()):
            survived = data.draw(st.integers(0, len(written) - 1))  # the core is last: it did not make it
            for key, value in written[:survived]:
                table[key] = value
            again, _after, written = decide_with_records(table, command)  # the redelivered command
            assert again == events  # same ids, same sequences: duplicates on the ledger fold away
            ledger_log.extend(again)
        for key, value in written:
            table[key] = value
        again, _after, _ = decide_with_records(table, command)  # delivered once more, after success
        assert again == []
    for account_id, state in replay(ledger_log).items():
        assert records.core_from_bytes(table[records.core_key(account_id)]) == core_only(state)


def _opened():
    command = OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=100,
                          reset_at=datetime(2026, 4, 1, tzinfo=UTC))
    return apply_command(None, command)[1]


def _reserve(job_id, amount, at=AT):
    return Reserve(command_id=f"reserve:{job_id}", account_id="a", at=at, job_id=job_id, amount=amount,
                   expires_at=at + timedelta(minutes=15))


def test_a_legacy_whole_state_record_is_migrated_by_the_next_command():
    state = _opened()
    for job_id in ("j1", "j2"):
        _, state = apply_command(state, _reserve(job_id, 10))
    _, state = apply_command(state, Capture(command_id="capture:j1", account_id="a", at=AT, job_id="j1", amount=10))
    table = {records.core_key("a"): json.dumps(state_to_dict(state)).encode()}

    events, after, written = decide_with_records(table, GrantCredits(
        command_id="g1", account_id="a", at=AT, amount=5, kind="permanent", reason="test"))
    assert [type(e).__name__ for e in events] == ["CreditsGranted"]
    for key, value in written:
        table[key] = value
    assert json.loads(table[records.core_key("a")])["core"] == records.CORE_VERSION
    # What the legacy record remembered is still known: a late capture and a repeated request change nothing.
    assert decide_with_records(table, Capture(command_id="capture:j1", account_id="a", at=AT, job_id="j1",
                                              amount=10))[0] == []
    assert decide_with_records(table, _reserve("j1", 10))[0] == []
    assert decide_with_records(table, _reserve("j2", 10))[0] == []  # still open: known by the core
    events, _, _ = decide_with_records(table, Capture(command_id="capture:j2", account_id="a", at=AT, job_id="j2",
                                                      amount=10))
    assert [type(e).__name__ for e in events] == ["ReservationCaptured"]


def test_core_records_stay_small_however_many_jobs_ended():
    table: dict[bytes, bytes] = {}
    for key, value in decide_with_records(table, OpenAccount(
            command_id="open:a", account_id="a", at=AT, monthly_allowance=10_000,
            reset_at=datetime(2026, 4, 1, tzinfo=UTC)))[2]:
        table[key] = value
    for n in range(300):
        for command in (_reserve(f"j{n}", 1), Capture(command_id=f"capture:j{n}", account_id="a", at=AT,
                                                      job_id=f"j{n}", amount=1)):
            for key, value in decide_with_records(table, command)[2]:
                table[key] = value
    assert len(table[records.core_key("a")]) < 400
    assert records.core_from_bytes(table[records.core_key("a")]).regular == 10_000 - 300


def test_memos_newer_than_their_core_are_ignored():
    table: dict[bytes, bytes] = {}
    for command in (OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=100,
                                reset_at=datetime(2026, 4, 1, tzinfo=UTC)), _reserve("j1", 30)):
        for key, value in decide_with_records(table, command)[2]:
            table[key] = value
    capture = Capture(command_id="capture:j1", account_id="a", at=AT, job_id="j1", amount=30)
    events, _, written = decide_with_records(table, capture)
    memos = [(k, v) for k, v in written if k != records.core_key("a")]
    for key, value in memos:  # the crash: memos written, core not
        table[key] = value
    state = records.decision_state("a", capture.command_id, "j1", table.get)
    assert state.applied_command_ids == frozenset() and "j1" in state.reservations
    assert decide_with_records(table, capture)[0] == events


def test_account_ids_with_the_key_separator_are_refused():
    with pytest.raises(InvalidCommand):
        records.decision_state("a\x1fcmd", "c", None, {}.get)
    assert records.is_core_key(b"acct_1") and not records.is_core_key(records.job_key("acct_1", "j"))
