"""The ledger timer's choices inside a worker: only owned accounts, and jobs failed only when they never ended."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner

import ledger
from ledger import records
from schemas import messages as msg
from streams import timer_logic as ledger_timer

AT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def _table(*account_ids: str) -> dict[bytes, bytes]:
    table: dict[bytes, bytes] = {}
    for account_id in account_ids:
        for command in (ledger.OpenAccount(command_id=f"open:{account_id}", account_id=account_id, at=AT,
                                           monthly_allowance=100, reset_at=AT + timedelta(days=1)),
                        ledger.Reserve(command_id=f"r:{account_id}", account_id=account_id, at=AT, job_id="j",
                                       amount=10, expires_at=AT + timedelta(minutes=15))):
            state = records.decision_state(account_id, command.command_id, getattr(command, "job_id", None),
                                           table.get)
            events, after = ledger.apply_command(state, command)
            table.update(records.records_after(after, events))
    return table


def test_partitions_are_computed_like_the_producers_do():
    partitioner = DefaultPartitioner()
    for n in range(50):
        key = f"acct_{n}".encode()
        assert ledger_timer.partition_of(key, 4) == partitioner(key, [0, 1, 2, 3], [0, 1, 2, 3])


def test_only_accounts_of_owned_partitions_get_commands():
    accounts = [f"acct_{n}" for n in range(12)]
    table = _table(*accounts)
    owned = {ledger_timer.partition_of(b"acct_0", 4)}
    due = ledger_timer.due_now(table, owned, AT + timedelta(minutes=16), 4)
    expected = {a for a in accounts if ledger_timer.partition_of(a.encode(), 4) in owned}
    assert {c.account_id for c in due} == expected
    assert all(isinstance(c, ledger.ExpireReservations) for c in due)
    assert ledger_timer.due_now(table, owned, AT + timedelta(minutes=14), 4) == []
    kinds = {type(c) for c in ledger_timer.due_now(table, {0, 1, 2, 3}, AT + timedelta(days=2), 4)}
    assert kinds == {ledger.ExpireReservations, ledger.ResetMonthly}


def _released(reason: str) -> msg.Message:
    event = ledger.ReservationReleased(event_id="e1", account_id="a", command_id="c1", sequence=3, at=AT,
                                       job_id="cl1", reason=reason, released_regular=10, released_permanent=0,
                                       forfeited_regular=0)
    balance = msg.BalanceAfter(credits=100, regular=100, permanent=0, reset_at="2026-04-01T00:00:00.000Z",
                               reserved=0, sequence=3)
    return msg.ledger_record(event, balance)


def test_an_expired_reservation_fails_its_job_only_if_the_job_never_ended():
    assert ledger_timer.expired_job(_released("expired")) == ("a", "cl1")
    assert ledger_timer.expired_job(_released("failed")) is None
    failed = ledger_timer.timed_out_envelope(
        ledger_timer.timed_out_event({"accountId": "a", "kind": "tts", "state": "QUEUED"}, "a", "cl1"))
    assert failed.name == msg.JobFailed.WIRE_NAME and failed.id == "expired:cl1"
    assert failed.payload == {"jobId": "cl1", "accountId": "a", "kind": "tts", "reason": ledger_timer.TIMED_OUT_REASON}
    assert ledger_timer.timed_out_event({"accountId": "a", "kind": "tts", "state": "COMPLETED"}, "a", "cl1") is None
    assert ledger_timer.timed_out_event({"accountId": "b", "kind": "tts", "state": "QUEUED"}, "a", "cl1") is None
    assert ledger_timer.timed_out_event(None, "a", "cl1") is None
