"""The ledger timer's pure part: which commands are due, with ids that make a second publication harmless."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ledger import ExpireReservations, OpenAccount, Reserve, ResetMonthly, apply_command, decide
from ledger.records import deadlines
from ledger.schedule import due_commands

AT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)
RESET = datetime(2026, 4, 1, tzinfo=UTC)


def _account(*jobs_expiring_in: timedelta):
    _, state = apply_command(None, OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=100,
                                               reset_at=RESET))
    for n, ttl in enumerate(jobs_expiring_in):
        _, state = apply_command(state, Reserve(command_id=f"r{n}", account_id="a", at=AT, job_id=f"j{n}", amount=10,
                                                expires_at=AT + ttl))
    return state


def test_nothing_is_due_before_the_first_expiry_and_the_reset():
    state = _account(timedelta(minutes=15))
    assert due_commands(deadlines(state), AT + timedelta(minutes=14)) == []


def test_an_expired_reservation_is_released_once_however_often_the_timer_publishes():
    state = _account(timedelta(minutes=15), timedelta(hours=2))
    now = AT + timedelta(minutes=16)
    first, = due_commands(deadlines(state), now)
    assert isinstance(first, ExpireReservations) and first.command_id == f"expire:a:{state.sequence}"
    # A later tick on the same (undecided) state publishes the same id; a worker losing the partition too.
    second, = due_commands(deadlines(state), now + timedelta(seconds=5))
    assert second.command_id == first.command_id

    events, state = apply_command(state, first)
    assert [(type(e).__name__, e.job_id, e.reason) for e in events] == [("ReservationReleased", "j0", "expired")]
    assert decide(state, second) == []  # the duplicate id decides nothing
    assert due_commands(deadlines(state), now + timedelta(seconds=5)) == []  # j1 is not due yet
    assert state.available == 90 and set(state.reservations) == {"j1"}


def test_a_due_monthly_reset_is_published_once_per_period():
    state = _account()
    after_reset = RESET + timedelta(seconds=3)
    reset, = due_commands(deadlines(state), after_reset)
    assert isinstance(reset, ResetMonthly) and reset.command_id == "reset:a:2026-04-01T00:00:00.000000Z"
    events, state = apply_command(state, reset)
    assert state.reset_at == datetime(2026, 5, 1, tzinfo=UTC)
    assert decide(state, reset) == []
    assert due_commands(deadlines(state), after_reset + timedelta(days=1)) == []


def test_reset_comes_before_expiry_when_both_are_due():
    state = _account(timedelta(minutes=1))
    kinds = [type(c) for c in due_commands(deadlines(state), RESET + timedelta(seconds=1))]
    assert kinds == [ResetMonthly, ExpireReservations]
