"""Ledger invariants over random command sequences (several accounts, redelivered commands, time jumps)."""
from __future__ import annotations

import calendar
import dataclasses
import itertools
import json
import typing
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import (
    COMMAND_TYPES,
    EVENT_TYPES,
    AccountOpened,
    Capture,
    CreditsGranted,
    CreditsReserved,
    DomainError,
    ExpireReservations,
    GrantCredits,
    MonthlyAllowanceReset,
    OpenAccount,
    Release,
    ReservationCaptured,
    ReservationRefused,
    ReservationReleased,
    ReservationStatus,
    Reserve,
    ResetMonthly,
    add_months,
    apply_command,
    command_from_dict,
    event_from_dict,
    next_reset_after,
    replay,
    to_dict,
)

ACCOUNTS = ("acct-a", "acct-b")
START = datetime(2024, 1, 20, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Weighted choice of the next step: job traffic dominates, like production.
STEP_KINDS = (
    ["reserve"] * 5 + ["capture"] * 4 + ["release"] * 2 + ["grant"] * 3
    + ["expire", "reset", "open", "duplicate", "duplicate"]
)


@st.composite
def command_sequences(draw) -> list:
    """Commands in arrival order: mostly valid, some invalid, some redelivered verbatim (same command id)."""
    command_ids = (f"cmd-{n}" for n in itertools.count())
    job_ids = (f"job-{n}" for n in itertools.count())
    at = START
    commands: list = []
    reserves: list[Reserve] = []

    def opening(account_id: str):
        return OpenAccount(
            command_id=next(command_ids), account_id=account_id, at=at,
            monthly_allowance=draw(st.integers(0, 500)),
            reset_at=at + timedelta(days=draw(st.integers(1, 40)), seconds=draw(st.integers(0, 86_399))),
        )

    def some_amount() -> int:
        return draw(st.one_of(st.integers(1, 250), st.integers(-1, 1000)))

    for account_id in ACCOUNTS:
        if draw(st.integers(0, 9)):  # now and then an account is never opened: its commands must be refused
            commands.append(opening(account_id))

    for _ in range(draw(st.integers(0, 40))):
        # Time mostly moves on, sometimes by months (resets), sometimes a little backwards (skewed clocks).
        at += timedelta(seconds=draw(st.one_of(st.integers(-3600, 3 * 3600), st.integers(0, 70 * 86_400))))
        kind = draw(st.sampled_from(STEP_KINDS))
        # Captures and releases mostly name a job reserved earlier, sometimes one never heard of.
        earlier = draw(st.sampled_from(reserves)) if reserves and draw(st.integers(0, 9)) else None
        reuse_account = earlier and kind in ("capture", "release")
        account_id = earlier.account_id if reuse_account else draw(st.sampled_from(ACCOUNTS))
        job_id = earlier.job_id if earlier else next(job_ids)
        base = {"command_id": next(command_ids), "account_id": account_id, "at": at}
        if kind == "duplicate" and commands:
            commands.append(draw(st.sampled_from(commands)))
        elif kind == "open":
            commands.append(opening(account_id))
        elif kind == "grant":
            commands.append(GrantCredits(
                **base, amount=some_amount(),
                kind=draw(st.sampled_from(["regular", "permanent", "permanent", "bonus"])), reason="test",
            ))
        elif kind == "reserve":
            fresh_job = draw(st.integers(0, 5)) > 0  # else: a second request for a job already seen
            reserve = Reserve(
                **base, job_id=next(job_ids) if fresh_job else job_id, amount=some_amount(),
                expires_at=at + timedelta(seconds=draw(st.integers(-60, 40 * 86_400))),
            )
            reserves.append(reserve)
            commands.append(reserve)
        elif kind == "capture":
            amount = draw(st.integers(1, max(1, earlier.amount))) if earlier and draw(st.booleans()) else some_amount()
            commands.append(Capture(**base, job_id=job_id, amount=amount))
        elif kind == "release":
            reason = draw(st.sampled_from(["failed", "cancelled", "timed_out", "expired", "bogus"]))
            commands.append(Release(**base, job_id=job_id, reason=reason))
        elif kind == "expire":
            commands.append(ExpireReservations(**base))
        else:
            commands.append(ResetMonthly(**base))
    return commands


@dataclasses.dataclass
class Step:
    command: object
    before: dict  # account id -> state, before the command
    after: dict
    events: list
    error: DomainError | None


def run(commands) -> list[Step]:
    """What a partition owner does: decide and evolve each command in order; rejections change nothing."""
    states: dict = {}
    steps = []
    for command in commands:
        before = dict(states)
        try:
            events, state = apply_command(states.get(command.account_id), command)
            error = None
        except DomainError as exc:
            events, error = [], exc
        else:
            if state is not None:
                states[command.account_id] = state
        steps.append(Step(command, before, dict(states), events, error))
    return steps


def log_of(steps: list[Step]) -> list:
    return [event for step in steps for event in step.events]


@SETTINGS
@given(command_sequences())
def test_balances_never_go_negative(commands):
    for step in run(commands):
        for state in step.after.values():
            assert state.regular >= 0 and state.permanent >= 0 and state.available >= 0
            assert all(r.regular_part >= 0 and r.permanent_part >= 0 and r.amount > 0
                       for r in state.reservations.values())


@SETTINGS
@given(command_sequences())
def test_every_reservation_ends_at_most_once_and_never_both_captured_and_released(commands):
    steps = run(commands)
    decided: Counter = Counter()          # reserved or refused, per (account, job)
    status: dict = {}                     # what the log says happened last to each job
    for event in log_of(steps):
        key = (event.account_id, getattr(event, "job_id", None))
        if isinstance(event, (CreditsReserved, ReservationRefused)):
            decided[key] += 1
            reserved = isinstance(event, CreditsReserved)
            status[key] = ReservationStatus.RESERVED if reserved else ReservationStatus.REFUSED
        elif isinstance(event, (ReservationCaptured, ReservationReleased)):
            assert status.get(key) == ReservationStatus.RESERVED, f"{key} ended twice or without a reservation"
            captured = isinstance(event, ReservationCaptured)
            status[key] = ReservationStatus.CAPTURED if captured else ReservationStatus.RELEASED
    assert all(n == 1 for n in decided.values()), "a job was reserved (or refused) more than once"

    states = steps[-1].after if steps else {}
    for (account_id, job_id), last in status.items():
        assert states[account_id].reservation_outcome(job_id).status == last


@SETTINGS
@given(command_sequences(), st.data())
def test_replaying_the_events_reproduces_every_state_even_with_redeliveries(commands, data):
    steps = run(commands)
    log = log_of(steps)
    final = steps[-1].after if steps else {}

    assert replay(log) == final
    redelivered_from = data.draw(st.integers(0, len(log)))
    assert replay(log[:redelivered_from] + log) == final
    assert replay(event for event in log for _ in range(2)) == final


@SETTINGS
@given(command_sequences())
def test_applying_any_command_twice_equals_applying_it_once(commands):
    for step in run(commands):
        state = step.before.get(step.command.account_id)
        if step.error is not None:
            continue  # rejected: nothing applied, and the same command is rejected again
        _, once = apply_command(state, step.command)
        again, twice = apply_command(once, step.command)
        assert again == [] and twice == once


@SETTINGS
@given(command_sequences())
def test_credits_are_conserved(commands):
    """granted - captured - forfeited = regular + permanent + reserved, for every account at every step."""
    granted, captured, forfeited = defaultdict(int), defaultdict(int), defaultdict(int)
    for step in run(commands):
        for event in step.events:
            account_id = event.account_id
            if isinstance(event, (AccountOpened, MonthlyAllowanceReset)):
                granted[account_id] += event.regular_granted
            if isinstance(event, CreditsGranted):
                granted[account_id] += event.amount
            if isinstance(event, ReservationCaptured):
                captured[account_id] += event.captured
            if isinstance(event, (MonthlyAllowanceReset, ReservationCaptured, ReservationReleased)):
                forfeited[account_id] += event.forfeited_regular
        for account_id, state in step.after.items():
            held = state.regular + state.permanent + state.reserved_total
            assert granted[account_id] - captured[account_id] - forfeited[account_id] == held


@SETTINGS
@given(command_sequences())
def test_events_are_deterministic_uniquely_identified_and_contiguous_per_account(commands):
    log = log_of(run(commands))
    assert log == log_of(run(commands))
    assert len({event.event_id for event in log}) == len(log)
    sequences = defaultdict(list)
    for event in log:
        sequences[event.account_id].append(event.sequence)
    assert all(seq == list(range(1, len(seq) + 1)) for seq in sequences.values())


@SETTINGS
@given(command_sequences())
def test_commands_and_events_of_a_run_survive_json(commands):
    for command in commands:
        assert command_from_dict(json.loads(json.dumps(to_dict(command)))) == command
    for event in log_of(run(commands)):
        assert event_from_dict(json.loads(json.dumps(to_dict(event)))) == event


# --- serialisation of arbitrary field values -----------------------------------------------------------------

_VALUES = {
    int: st.integers(),
    str: st.text(),
    datetime: st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC])
    ),
}


def _builds(cls):
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _VALUES[hints[f.name]] for f in dataclasses.fields(cls)})


@settings(max_examples=300, deadline=None)
@given(st.one_of([_builds(cls) for cls in EVENT_TYPES]))
def test_any_event_round_trips_exactly(event):
    data = to_dict(event)
    assert event_from_dict(json.loads(json.dumps(data))) == event
    assert to_dict(event_from_dict(data)) == data


@settings(max_examples=300, deadline=None)
@given(st.one_of([_builds(cls) for cls in COMMAND_TYPES]))
def test_any_command_round_trips_exactly(command):
    data = to_dict(command)
    assert command_from_dict(json.loads(json.dumps(data))) == command
    assert to_dict(command_from_dict(data)) == data


# --- billing periods -----------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(
    anchor=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)),
)
def test_the_next_reset_is_the_first_anchored_month_after_the_moment(anchor, later):
    moment = anchor + later
    reset = next_reset_after(anchor, moment)

    assert moment < reset <= moment + timedelta(days=31)
    assert reset.time() == anchor.time()
    assert reset.day == min(anchor.day, calendar.monthrange(reset.year, reset.month)[1])
    months = (reset.year - anchor.year) * 12 + reset.month - anchor.month
    assert add_months(anchor, months) == reset and (months == 0 or add_months(anchor, months - 1) <= moment)



@SETTINGS
@given(command_sequences())
def test_every_reachable_state_survives_a_json_snapshot(commands):
    from ledger.snapshot import state_from_dict, state_to_dict

    for step in run(commands):
        for state in step.after.values():
            assert state_from_dict(json.loads(json.dumps(state_to_dict(state)))) == state
