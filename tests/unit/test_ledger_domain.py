"""Examples of every ledger command and every way it can be rejected."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ledger import (
    AccountAlreadyOpened,
    AccountMismatch,
    AccountOpened,
    Capture,
    CaptureExceedsReservation,
    CorruptEventStream,
    CreditsGranted,
    CreditsReserved,
    ExpireReservations,
    GrantCredits,
    InvalidAmount,
    InvalidCommand,
    InvalidExpiry,
    InvalidResetDate,
    InvalidTimestamp,
    MonthlyAllowanceReset,
    OpenAccount,
    Release,
    ReservationCaptured,
    ReservationOutcome,
    ReservationRefused,
    ReservationReleased,
    ReservationStatus,
    ReservationWasRefused,
    Reserve,
    ResetMonthly,
    SerializationError,
    UnknownAccount,
    UnknownJob,
    add_months,
    apply_command,
    command_from_dict,
    decide,
    event_from_dict,
    evolve,
    next_reset_after,
    replay,
    to_dict,
    to_refusal_view,
    to_view,
)

ACCOUNT = "acct-1"
_ids = itertools.count(1)


def t(day: int, hour: int = 0, month: int = 1) -> datetime:
    return datetime(2024, month, day, hour, tzinfo=UTC)


def cmd(command_type, /, *, account_id: str = ACCOUNT, at: datetime | str | None = None,
        command_id: str | None = None, **fields):
    """A command with a fresh id and a default time, so examples only spell out what matters."""
    return command_type(command_id=command_id or f"cmd-{next(_ids)}", account_id=account_id, at=at or t(10), **fields)


def open_account(allowance: int = 3000, permanent: int = 0, reset_at: datetime | None = None):
    """An account opened on Jan 1 with `allowance` regular credits and optionally some permanent ones."""
    events, state = apply_command(None, cmd(OpenAccount, at=t(1), monthly_allowance=allowance,
                                                  reset_at=reset_at or t(1, month=2)))
    if permanent:
        more, state = apply_command(state, cmd(GrantCredits, at=t(1), amount=permanent, kind="permanent",
                                               reason="purchase"))
        events += more
    return state, events


def reserve(state, job_id: str = "job-1", amount: int = 100, at: datetime | None = None,
            expires_at: datetime | None = None):
    at = at or t(10)
    return apply_command(state, cmd(Reserve, at=at, job_id=job_id, amount=amount,
                                    expires_at=expires_at or at + timedelta(hours=1)))


def _stamp(event) -> dict:
    """The identity fields of an event, to compare the rest of it by constructing the expected one."""
    return {name: getattr(event, name) for name in ("event_id", "account_id", "command_id", "sequence", "at")}


# --- OpenAccount ---------------------------------------------------------------------------------------------

def test_open_account_grants_the_first_allowance_and_matches_the_seed_view():
    state, events = open_account(allowance=3000, permanent=2000)

    assert isinstance(events[0], AccountOpened) and events[0].regular_granted == 3000
    assert (state.regular, state.permanent, state.reserved_total, state.available) == (3000, 2000, 0, 5000)
    assert state.monthly_allowance == 3000 and state.reset_at == t(1, month=2)
    assert to_view(state) == {
        "credits": 5000,
        "breakdown": {"regular": 3000, "permanent": 2000, "resetAt": "2024-02-01T00:00:00.000Z"},
    }


def test_times_arrive_as_iso_strings_or_any_zone_and_are_kept_in_utc():
    command = OpenAccount(
        command_id="c", account_id=ACCOUNT, at="2024-01-01T02:00:00+02:00", monthly_allowance=1,
        reset_at=datetime(2024, 2, 1, 1, tzinfo=timezone(timedelta(hours=1))),
    )
    assert command.at == datetime(2024, 1, 1, 0, tzinfo=UTC) and command.at.tzinfo is UTC
    assert command.reset_at.hour == 0 and command.reset_at.tzinfo is UTC


@pytest.mark.parametrize("bad_time", [datetime(2024, 1, 1), "yesterday", "2024-01-01T00:00:00", 1704067200])
def test_times_without_a_utc_offset_are_refused(bad_time):
    with pytest.raises(InvalidTimestamp):
        cmd(ResetMonthly, at=bad_time)


def test_opening_twice_with_another_command_is_refused_and_the_same_command_is_a_no_op():
    opening = cmd(OpenAccount, at=t(1), monthly_allowance=10, reset_at=t(1, month=2))
    _, state = apply_command(None, opening)

    assert decide(state, opening) == []
    with pytest.raises(AccountAlreadyOpened):
        decide(state, cmd(OpenAccount, at=t(1), monthly_allowance=10, reset_at=t(1, month=2)))


@pytest.mark.parametrize("allowance", [-1, 1.5, True, "10"])
def test_open_account_refuses_an_allowance_that_is_not_a_whole_number_of_credits(allowance):
    with pytest.raises(InvalidAmount):
        decide(None, cmd(OpenAccount, at=t(1), monthly_allowance=allowance, reset_at=t(1, month=2)))


def test_open_account_allows_a_zero_allowance_for_pay_as_you_go():
    state, _ = open_account(allowance=0, permanent=50)
    assert (state.regular, state.permanent) == (0, 50)


@pytest.mark.parametrize("reset_at", [t(1), t(1) - timedelta(seconds=1)])
def test_open_account_refuses_a_first_reset_that_is_not_in_the_future(reset_at):
    with pytest.raises(InvalidResetDate):
        decide(None, cmd(OpenAccount, at=t(1), monthly_allowance=1, reset_at=reset_at))


@pytest.mark.parametrize("field", ["command_id", "account_id"])
def test_commands_need_non_empty_identifiers(field):
    command = cmd(OpenAccount, at=t(1), monthly_allowance=1, reset_at=t(1, month=2))
    with pytest.raises(InvalidCommand):
        decide(None, OpenAccount(**{**command.__dict__, field: ""}))


@pytest.mark.parametrize(
    "command",
    [
        cmd(GrantCredits, amount=1, kind="permanent", reason="x"),
        cmd(Reserve, job_id="j", amount=1, expires_at=t(11)),
        cmd(Capture, job_id="j", amount=1),
        cmd(Release, job_id="j", reason="failed"),
        cmd(ExpireReservations),
        cmd(ResetMonthly),
    ],
    ids=lambda c: type(c).__name__,
)
def test_every_command_but_open_needs_an_open_account(command):
    with pytest.raises(UnknownAccount):
        decide(None, command)


def test_a_command_decided_on_another_accounts_state_is_refused():
    state, _ = open_account()
    with pytest.raises(AccountMismatch):
        decide(state, cmd(ResetMonthly, account_id="someone-else"))


# --- GrantCredits --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("kind", "regular", "permanent"), [("regular", 3500, 0), ("permanent", 3000, 500)])
def test_grant_credits_adds_to_the_named_bucket(kind, regular, permanent):
    state, _ = open_account(allowance=3000)
    events, state = apply_command(state, cmd(GrantCredits, amount=500, kind=kind, reason="promotion"))

    assert events == [CreditsGranted(**_stamp(events[0]), amount=500, kind=kind, reason="promotion")]
    assert (state.regular, state.permanent) == (regular, permanent)


@pytest.mark.parametrize("amount", [0, -5, 2.0, True])
def test_grant_credits_refuses_non_positive_or_fractional_amounts(amount):
    state, _ = open_account()
    with pytest.raises(InvalidAmount):
        decide(state, cmd(GrantCredits, amount=amount, kind="permanent", reason="x"))


def test_grant_credits_refuses_an_unknown_kind():
    state, _ = open_account()
    with pytest.raises(InvalidCommand):
        decide(state, cmd(GrantCredits, amount=1, kind="gold", reason="x"))


def test_a_redelivered_grant_is_applied_once_but_a_new_grant_is_applied_again():
    state, _ = open_account(allowance=0)
    grant = cmd(GrantCredits, amount=100, kind="permanent", reason="purchase")
    _, state = apply_command(state, grant)

    assert decide(state, grant) == []
    _, state = apply_command(state, cmd(GrantCredits, amount=100, kind="permanent", reason="purchase"))
    assert state.permanent == 200


# --- Reserve -------------------------------------------------------------------------------------------------

def test_reserve_spends_regular_credits_first_then_permanent():
    state, _ = open_account(allowance=300, permanent=1000)
    events, state = reserve(state, amount=500)

    assert events == [
        CreditsReserved(**_stamp(events[0]), job_id="job-1", regular_part=300, permanent_part=200, expires_at=t(10, 1))
    ]
    assert (state.regular, state.permanent, state.reserved_total, state.available) == (0, 800, 500, 800)
    assert state.reservation_outcome("job-1") == ReservationOutcome(
        job_id="job-1", status=ReservationStatus.RESERVED, requested=500
    )


def test_reserve_may_take_exactly_everything_available():
    state, _ = open_account(allowance=300, permanent=200)
    _, state = reserve(state, amount=500)
    assert state.available == 0 and state.reserved_total == 500


def test_not_enough_credits_is_recorded_as_a_refusal_not_raised():
    state, _ = open_account(allowance=300, permanent=200)
    events, after = reserve(state, amount=1000)

    assert events == [ReservationRefused(**_stamp(events[0]), job_id="job-1", available_credits=500,
                                         needed_credits=1000)]
    assert (after.regular, after.permanent, after.reserved_total) == (300, 200, 0)
    outcome = after.reservation_outcome("job-1")
    assert outcome.status == ReservationStatus.REFUSED
    assert to_refusal_view(events[0]) == to_refusal_view(outcome) == {"credits": 500, "needCredits": 1000}


def test_a_job_is_reserved_once_whatever_a_duplicate_request_asks():
    state, _ = open_account(allowance=1000)
    _, state = reserve(state, job_id="job-1", amount=100)

    assert reserve(state, job_id="job-1", amount=999)[0] == []
    _, state = apply_command(state, cmd(Capture, job_id="job-1", amount=100))
    assert reserve(state, job_id="job-1", amount=100)[0] == []


def test_a_refused_job_stays_refused_even_after_credits_arrive():
    state, _ = open_account(allowance=10)
    _, state = reserve(state, job_id="job-1", amount=100)
    _, state = apply_command(state, cmd(GrantCredits, amount=1000, kind="permanent", reason="purchase"))

    assert reserve(state, job_id="job-1", amount=100)[0] == []
    assert state.reservation_outcome("job-1").status == ReservationStatus.REFUSED


@pytest.mark.parametrize("amount", [0, -1, 1.0, True])
def test_reserve_refuses_non_positive_or_fractional_amounts(amount):
    state, _ = open_account()
    with pytest.raises(InvalidAmount):
        reserve(state, amount=amount)


@pytest.mark.parametrize("expires_at", [t(10), t(9)])
def test_reserve_refuses_a_hold_that_expires_before_it_is_made(expires_at):
    state, _ = open_account()
    with pytest.raises(InvalidExpiry):
        reserve(state, at=t(10), expires_at=expires_at)


def test_reserve_needs_a_job_id():
    state, _ = open_account()
    with pytest.raises(InvalidCommand):
        reserve(state, job_id="")


def test_reserve_applies_a_due_monthly_reset_before_pricing_the_job():
    state, _ = open_account(allowance=1000)
    _, state = reserve(state, job_id="early", amount=1000, expires_at=t(1, month=3))
    events, state = reserve(state, job_id="late", amount=600, at=t(1, 9, month=2))

    assert [type(e) for e in events] == [MonthlyAllowanceReset, CreditsReserved]
    assert [e.sequence for e in events] == [state.sequence - 1, state.sequence]
    assert state.reset_at == t(1, month=3) and state.regular == 400


# --- Capture -------------------------------------------------------------------------------------------------

def test_capture_of_the_whole_reservation_spends_it():
    state, _ = open_account(allowance=1000)
    _, state = reserve(state, amount=300)
    events, state = apply_command(state, cmd(Capture, job_id="job-1", amount=300))

    assert events == [
        ReservationCaptured(
            **_stamp(events[0]), job_id="job-1", captured_regular=300, captured_permanent=0,
            released_regular=0, released_permanent=0, forfeited_regular=0,
        )
    ]
    assert (state.regular, state.reserved_total) == (700, 0)
    assert state.reservation_outcome("job-1") == ReservationOutcome(
        job_id="job-1", status=ReservationStatus.CAPTURED, requested=300, captured=300
    )


def test_capture_of_less_consumes_the_regular_part_first_and_returns_the_rest_where_it_came_from():
    state, _ = open_account(allowance=100, permanent=1000)
    _, state = reserve(state, amount=400)  # 100 regular + 300 permanent
    events, state = apply_command(state, cmd(Capture, job_id="job-1", amount=250))

    captured = events[0]
    assert (captured.captured_regular, captured.captured_permanent) == (100, 150)
    assert (captured.released_regular, captured.released_permanent, captured.forfeited_regular) == (0, 150, 0)
    assert (state.regular, state.permanent, state.reserved_total) == (0, 850, 0)


def test_capture_returns_an_unspent_regular_part_to_regular():
    state, _ = open_account(allowance=1000, permanent=1000)
    _, state = reserve(state, amount=400)
    events, state = apply_command(state, cmd(Capture, job_id="job-1", amount=100))

    assert (events[0].released_regular, events[0].released_permanent) == (300, 0)
    assert (state.regular, state.permanent) == (900, 1000)


def test_capture_of_more_than_reserved_is_refused():
    state, _ = open_account()
    _, state = reserve(state, amount=100)
    with pytest.raises(CaptureExceedsReservation):
        decide(state, cmd(Capture, job_id="job-1", amount=101))


@pytest.mark.parametrize("amount", [0, -1])
def test_capture_refuses_non_positive_amounts(amount):
    state, _ = open_account()
    _, state = reserve(state)
    with pytest.raises(InvalidAmount):
        decide(state, cmd(Capture, job_id="job-1", amount=amount))


def test_capture_of_an_unknown_job_is_refused():
    state, _ = open_account()
    with pytest.raises(UnknownJob):
        decide(state, cmd(Capture, job_id="nobody", amount=1))


def test_capture_of_a_refused_job_is_refused():
    state, _ = open_account(allowance=10)
    _, state = reserve(state, amount=100)
    with pytest.raises(ReservationWasRefused):
        decide(state, cmd(Capture, job_id="job-1", amount=100))


@pytest.mark.parametrize("ending", [Capture, Release])
def test_a_reservation_ends_exactly_once(ending):
    state, _ = open_account()
    _, state = reserve(state, amount=100)
    first = cmd(ending, job_id="job-1", **({"amount": 100} if ending is Capture else {"reason": "failed"}))
    _, ended = apply_command(state, first)

    assert decide(ended, cmd(Capture, job_id="job-1", amount=100)) == []
    assert decide(ended, cmd(Release, job_id="job-1", reason="cancelled")) == []
    assert decide(ended, first) == []


# --- Release -------------------------------------------------------------------------------------------------

def test_release_returns_each_part_to_its_bucket():
    state, _ = open_account(allowance=100, permanent=1000)
    _, state = reserve(state, amount=400)
    events, state = apply_command(state, cmd(Release, job_id="job-1", reason="failed"))

    assert events == [
        ReservationReleased(
            **_stamp(events[0]), job_id="job-1", reason="failed",
            released_regular=100, released_permanent=300, forfeited_regular=0,
        )
    ]
    assert (state.regular, state.permanent, state.reserved_total) == (100, 1000, 0)
    outcome = state.reservation_outcome("job-1")
    assert (outcome.status, outcome.released, outcome.release_reason) == (ReservationStatus.RELEASED, 400, "failed")


def test_release_refuses_an_unknown_reason():
    state, _ = open_account()
    _, state = reserve(state)
    with pytest.raises(InvalidCommand):
        decide(state, cmd(Release, job_id="job-1", reason="bored"))


def test_release_of_an_unknown_job_is_refused():
    state, _ = open_account()
    with pytest.raises(UnknownJob):
        decide(state, cmd(Release, job_id="nobody", reason="failed"))


def test_release_of_a_refused_job_has_nothing_to_do():
    state, _ = open_account(allowance=10)
    _, state = reserve(state, amount=100)
    assert decide(state, cmd(Release, job_id="job-1", reason="failed")) == []


# --- ExpireReservations --------------------------------------------------------------------------------------

def test_expire_releases_every_reservation_due_by_then_in_expiry_order():
    state, _ = open_account(allowance=1000)
    _, state = reserve(state, job_id="later", amount=10, expires_at=t(12))
    _, state = reserve(state, job_id="sooner", amount=20, expires_at=t(11))
    _, state = reserve(state, job_id="exactly-due", amount=30, expires_at=t(12))
    _, state = reserve(state, job_id="not-due", amount=40, expires_at=t(12, 1))
    events, state = apply_command(state, cmd(ExpireReservations, at=t(12)))

    assert [(e.job_id, e.reason) for e in events] == [("sooner", "expired"), ("exactly-due", "expired"),
                                                      ("later", "expired")]
    assert [e.sequence for e in events] == list(range(events[0].sequence, events[0].sequence + 3))
    assert len({e.event_id for e in events}) == 3
    assert list(state.reservations) == ["not-due"] and state.regular == 960


def test_expire_with_nothing_due_does_nothing():
    state, _ = open_account()
    _, state = reserve(state, expires_at=t(20))
    assert decide(state, cmd(ExpireReservations, at=t(19))) == []


# --- ResetMonthly --------------------------------------------------------------------------------------------

def test_reset_before_it_is_due_does_nothing():
    state, _ = open_account(reset_at=t(1, month=2))
    assert decide(state, cmd(ResetMonthly, at=t(31, 23))) == []


def test_reset_restores_the_allowance_keeps_permanent_and_moves_reset_at_a_month_on():
    state, _ = open_account(allowance=3000, permanent=500, reset_at=t(1, month=2))
    _, state = apply_command(state, cmd(GrantCredits, amount=700, kind="regular", reason="bonus"))
    _, state = reserve(state, amount=3600)  # all 3700 regular but 100, then nothing from permanent
    events, state = apply_command(state, cmd(ResetMonthly, at=t(1, month=2)))

    assert events == [
        MonthlyAllowanceReset(
            **_stamp(events[0]), previous_reset_at=t(1, month=2), next_reset_at=t(1, month=3),
            forfeited_regular=100, regular_granted=3000,
        )
    ]
    assert (state.regular, state.permanent, state.reset_at) == (3000, 500, t(1, month=3))


def test_a_late_reset_grants_one_allowance_and_moves_past_the_time_it_ran():
    state, _ = open_account(allowance=3000, reset_at=t(1, month=2))
    events, state = apply_command(state, cmd(ResetMonthly, at=t(15, month=4)))

    assert events[0].regular_granted == 3000 and state.regular == 3000
    assert state.reset_at == t(1, month=5)


def test_resets_keep_the_anchor_day_of_month_clamped_to_short_months():
    state, _ = open_account(reset_at=t(31))
    seen = []
    for _ in range(4):
        _, state = apply_command(state, cmd(ResetMonthly, at=state.reset_at))
        seen.append(state.reset_at.date().isoformat())
    assert seen == ["2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"]


def test_add_months_and_next_reset_after():
    assert add_months(datetime(2023, 12, 31, 5, tzinfo=UTC), 2) == datetime(2024, 2, 29, 5, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 13) == datetime(2025, 2, 28, tzinfo=UTC)
    anchor = datetime(2024, 1, 31, tzinfo=UTC)
    assert next_reset_after(anchor, datetime(2024, 2, 29, tzinfo=UTC)) == datetime(2024, 3, 31, tzinfo=UTC)
    assert next_reset_after(anchor, datetime(2024, 2, 28, 23, tzinfo=UTC)) == datetime(2024, 2, 29, tzinfo=UTC)


# --- Reset while credits are held ----------------------------------------------------------------------------

def test_regular_credits_held_across_a_reset_are_forfeited_on_release_and_permanent_ones_return():
    state, _ = open_account(allowance=100, permanent=1000)
    _, state = reserve(state, amount=400, expires_at=t(10, month=2))  # 100 regular + 300 permanent
    _, state = apply_command(state, cmd(ResetMonthly, at=t(1, month=2)))
    events, state = apply_command(state, cmd(Release, at=t(2, month=2), job_id="job-1", reason="failed"))

    released = events[0]
    assert (released.released_regular, released.released_permanent, released.forfeited_regular) == (0, 300, 100)
    assert (state.regular, state.permanent) == (100, 1000)
    assert state.reservation_outcome("job-1").forfeited == 100


def test_the_regular_remainder_of_a_capture_across_a_reset_is_forfeited():
    state, _ = open_account(allowance=500)
    _, state = reserve(state, amount=400, expires_at=t(10, month=2))
    _, state = apply_command(state, cmd(ResetMonthly, at=t(1, month=2)))
    events, state = apply_command(state, cmd(Capture, at=t(2, month=2), job_id="job-1", amount=150))

    captured = events[0]
    assert (captured.captured_regular, captured.released_regular, captured.forfeited_regular) == (150, 0, 250)
    assert state.regular == 500


# --- Events: identity, evolve and replay ---------------------------------------------------------------------

def test_deciding_the_same_command_on_the_same_state_gives_identical_events():
    state, _ = open_account(allowance=1000)
    command = cmd(Reserve, job_id="job-1", amount=10, expires_at=t(11))
    first, second = decide(state, command), decide(state, command)
    assert first == second
    assert decide(state, cmd(Reserve, job_id="job-1", amount=10, expires_at=t(11)))[0].event_id != first[0].event_id


def test_evolve_ignores_an_event_it_has_already_applied():
    state, _ = open_account(allowance=1000)
    events, after = reserve(state)
    assert evolve(after, events[0]) is after


def test_evolve_detects_a_gap_in_the_stream():
    state, _ = open_account(allowance=1000)
    events, _ = reserve(state)
    skipped = CreditsReserved(**{**events[0].__dict__, "sequence": events[0].sequence + 1})
    with pytest.raises(CorruptEventStream):
        evolve(state, skipped)


def test_a_stream_must_start_by_opening_the_account():
    state, events = open_account(allowance=1000, permanent=5)
    with pytest.raises(CorruptEventStream):
        evolve(None, events[1])
    with pytest.raises(CorruptEventStream):
        replay(events[1:])


def test_evolve_refuses_another_accounts_event():
    state, _ = open_account()
    reset = decide(state, cmd(ResetMonthly, at=t(1, month=2)))[0]
    with pytest.raises(CorruptEventStream):
        evolve(state, MonthlyAllowanceReset(**{**reset.__dict__, "account_id": "acct-2"}))


def test_replay_folds_interleaved_accounts_and_skips_redelivered_events():
    log = []
    states = {}
    for account in ("a", "b"):
        events, states[account] = apply_command(
            None, cmd(OpenAccount, account_id=account, at=t(1), monthly_allowance=100, reset_at=t(1, month=2))
        )
        log += events
    for account, amount in (("a", 10), ("b", 20), ("a", 30)):
        events, states[account] = apply_command(
            states[account], cmd(Reserve, account_id=account, job_id=f"job-{amount}", amount=amount, expires_at=t(11))
        )
        log += events + events  # delivered twice

    assert replay(log) == states


def test_reservation_outcome_of_an_unknown_job_is_none():
    state, _ = open_account()
    assert state.reservation_outcome("nobody") is None


# --- Serialisation and view ----------------------------------------------------------------------------------

def test_events_serialise_to_plain_dicts_with_type_and_version():
    state, _ = open_account(allowance=100)
    events, _ = reserve(state, amount=10, at=t(10), expires_at=datetime(2024, 1, 10, 1, 2, 3, 456789, tzinfo=UTC))
    data = to_dict(events[0])

    assert data == {
        "type": "CreditsReserved", "version": 1, "event_id": events[0].event_id, "account_id": ACCOUNT,
        "command_id": events[0].command_id, "sequence": 2, "at": "2024-01-10T00:00:00.000000Z",
        "job_id": "job-1", "regular_part": 10, "permanent_part": 0, "expires_at": "2024-01-10T01:02:03.456789Z",
    }
    assert event_from_dict(data) == events[0]


def test_commands_round_trip_through_dicts():
    command = cmd(GrantCredits, amount=5, kind="permanent", reason="purchase")
    assert command_from_dict(to_dict(command)) == command


@pytest.mark.parametrize(
    "change",
    [
        {"type": "CreditsStolen"},
        {"version": 2},
        {"version": True},
        {"amount": True},
        {"amount": "5"},
        {"reason": 5},
        {"at": "2024-01-01T00:00:00"},
        {"at": 1704067200},
        {"surprise": 1},
    ],
)
def test_malformed_serialised_messages_are_refused(change):
    data = {**to_dict(cmd(GrantCredits, amount=5, kind="permanent", reason="x")), **change}
    with pytest.raises(SerializationError):
        command_from_dict(data)


def test_a_serialised_message_missing_a_field_is_refused():
    data = to_dict(cmd(GrantCredits, amount=5, kind="permanent", reason="x"))
    del data["reason"]
    with pytest.raises(SerializationError):
        command_from_dict(data)


def test_commands_and_events_are_not_confused():
    with pytest.raises(SerializationError):
        event_from_dict(to_dict(cmd(ResetMonthly)))


def test_the_view_shows_reset_at_with_milliseconds_in_utc():
    state, _ = open_account(reset_at=datetime(2024, 2, 1, 12, 30, 15, 123999, tzinfo=UTC))
    assert to_view(state)["breakdown"]["resetAt"] == "2024-02-01T12:30:15.123Z"
