"""The ledger's decisions: which events a command causes, given the account's state. Pure: no I/O, no clock.

Rules in one place:
- A command id already applied to the account decides nothing ([]): redelivery is harmless.
- A job is reserved once. Reserve for a job the ledger already knows (open, ended or refused) decides nothing;
  so do Capture/Release of an ended reservation: a reservation ends exactly once.
- Not enough credits is a fact, not an error: Reserve then yields ReservationRefused.
- Regular credits are spent before permanent ones; a capture consumes the reserved regular part first.
- Regular credits belong to a monthly period. A reserved regular part returned after its period ended is
  forfeited (it would have expired at the reset had it not been held); permanent parts always come back.
- Reserve first applies a monthly reset that is due (at >= reset_at), so a job is priced against the current
  period's allowance even if the reset tick has not arrived yet.
"""
from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypedDict, TypeVar

from .billing_period import next_reset_after
from .commands import (
    Capture,
    Command,
    ExpireReservations,
    GrantCredits,
    OpenAccount,
    Release,
    Reserve,
    ResetMonthly,
)
from .errors import (
    AccountAlreadyOpened,
    AccountMismatch,
    CaptureExceedsReservation,
    InvalidAmount,
    InvalidCommand,
    InvalidExpiry,
    InvalidResetDate,
    ReservationWasRefused,
    UnknownAccount,
    UnknownJob,
)
from .events import (
    AccountOpened,
    CreditsGranted,
    CreditsReserved,
    Event,
    MonthlyAllowanceReset,
    ReservationCaptured,
    ReservationRefused,
    ReservationReleased,
    derive_event_id,
)
from .state import AccountState, Reservation, evolve
from .vocabulary import CreditKind, ReleaseReason, ReservationStatus

_Word = TypeVar("_Word", bound=StrEnum)


def decide(state: AccountState | None, command: Command) -> list[Event]:
    """Events caused by `command` on an account in `state` (None: not opened). Raises DomainError to reject."""
    _require_identifier("command_id", command.command_id)
    _require_identifier("account_id", command.account_id)
    if state is not None:
        if state.account_id != command.account_id:
            raise AccountMismatch(f"command for {command.account_id} decided on {state.account_id}'s state")
        if command.command_id in state.applied_command_ids:
            return []
    if isinstance(command, OpenAccount):
        return _open_account(state, command)
    if state is None:
        raise UnknownAccount(f"account {command.account_id} is not open")
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise InvalidCommand(f"not a ledger command: {type(command).__name__}")
    return decider(state, command)


def apply_command(state: AccountState | None, command: Command) -> tuple[list[Event], AccountState | None]:
    """decide, then evolve by each event: what a partition owner does per command."""
    events = decide(state, command)
    for event in events:
        state = evolve(state, event)
    return events, state


class _EventStamper:
    """Gives each event of one command its deterministic id and its position in the account's stream."""

    def __init__(self, state: AccountState | None, command: Command) -> None:
        self._command = command
        self._index = 0
        self._sequence = (state.sequence if state is not None else 0) + 1

    def __call__(self) -> dict[str, Any]:
        stamp = {
            "event_id": derive_event_id(self._command.account_id, self._command.command_id, self._index),
            "account_id": self._command.account_id,
            "command_id": self._command.command_id,
            "sequence": self._sequence,
            "at": self._command.at,
        }
        self._index += 1
        self._sequence += 1
        return stamp


def _open_account(state: AccountState | None, command: OpenAccount) -> list[Event]:
    if state is not None:
        raise AccountAlreadyOpened(f"account {command.account_id} is already open")
    _require_credits(command.monthly_allowance, minimum=0)
    if command.reset_at <= command.at:
        raise InvalidResetDate(f"first reset {command.reset_at.isoformat()} is not after opening")
    stamp = _EventStamper(state, command)
    return [
        AccountOpened(
            **stamp(),
            monthly_allowance=command.monthly_allowance,
            reset_at=command.reset_at,
            regular_granted=command.monthly_allowance,
        )
    ]


def _grant_credits(state: AccountState, command: GrantCredits) -> list[Event]:
    _require_credits(command.amount, minimum=1)
    kind = _parse(CreditKind, "credit kind", command.kind)
    if not isinstance(command.reason, str):
        raise InvalidCommand(f"reason must be text, got {command.reason!r}")
    stamp = _EventStamper(state, command)
    return [CreditsGranted(**stamp(), amount=command.amount, kind=kind.value, reason=command.reason)]


def _reserve(state: AccountState, command: Reserve) -> list[Event]:
    _require_identifier("job_id", command.job_id)
    _require_credits(command.amount, minimum=1)
    if command.expires_at <= command.at:
        raise InvalidExpiry(f"reservation for {command.job_id} would expire when or before it is made")
    if state.reservation_outcome(command.job_id) is not None:
        return []
    stamp = _EventStamper(state, command)
    events: list[Event] = []
    if command.at >= state.reset_at:
        reset = _monthly_reset(state, command, stamp)
        events.append(reset)
        state = evolve(state, reset)
    if command.amount > state.available:
        events.append(
            ReservationRefused(
                **stamp(), job_id=command.job_id, available_credits=state.available, needed_credits=command.amount
            )
        )
    else:
        regular_part = min(command.amount, state.regular)
        events.append(
            CreditsReserved(
                **stamp(),
                job_id=command.job_id,
                regular_part=regular_part,
                permanent_part=command.amount - regular_part,
                expires_at=command.expires_at,
            )
        )
    return events


def _capture(state: AccountState, command: Capture) -> list[Event]:
    _require_identifier("job_id", command.job_id)
    _require_credits(command.amount, minimum=1)
    reservation = _open_reservation(state, command.job_id, capturing=True)
    if reservation is None:
        return []
    if command.amount > reservation.amount:
        raise CaptureExceedsReservation(
            f"job {command.job_id}: capture of {command.amount} exceeds the {reservation.amount} reserved"
        )
    captured_regular = min(command.amount, reservation.regular_part)
    captured_permanent = command.amount - captured_regular
    stamp = _EventStamper(state, command)
    return [
        ReservationCaptured(
            **stamp(),
            job_id=command.job_id,
            captured_regular=captured_regular,
            captured_permanent=captured_permanent,
            **_returned_remainder(
                state,
                reservation,
                regular=reservation.regular_part - captured_regular,
                permanent=reservation.permanent_part - captured_permanent,
            ),
        )
    ]


def _release(state: AccountState, command: Release) -> list[Event]:
    _require_identifier("job_id", command.job_id)
    reason = _parse(ReleaseReason, "release reason", command.reason)
    reservation = _open_reservation(state, command.job_id, capturing=False)
    if reservation is None:
        return []
    stamp = _EventStamper(state, command)
    return [_released(state, reservation, reason, stamp)]


def _expire_reservations(state: AccountState, command: ExpireReservations) -> list[Event]:
    stamp = _EventStamper(state, command)
    due = sorted(
        (r for r in state.reservations.values() if r.expires_at <= command.at),
        key=lambda r: (r.expires_at, r.job_id),  # a fixed order keeps event ids stable across re-decisions
    )
    return [_released(state, reservation, ReleaseReason.EXPIRED, stamp) for reservation in due]


def _reset_monthly(state: AccountState, command: ResetMonthly) -> list[Event]:
    if command.at < state.reset_at:
        return []  # not due: an early tick is harmless
    return [_monthly_reset(state, command, _EventStamper(state, command))]


def _monthly_reset(state: AccountState, command: Command, stamp: _EventStamper) -> MonthlyAllowanceReset:
    return MonthlyAllowanceReset(
        **stamp(),
        previous_reset_at=state.reset_at,
        next_reset_at=next_reset_after(state.reset_anchor, command.at),
        forfeited_regular=state.regular,
        regular_granted=state.monthly_allowance,
    )


def _released(
    state: AccountState, reservation: Reservation, reason: ReleaseReason, stamp: _EventStamper
) -> ReservationReleased:
    return ReservationReleased(
        **stamp(),
        job_id=reservation.job_id,
        reason=reason.value,
        **_returned_remainder(state, reservation, regular=reservation.regular_part,
                              permanent=reservation.permanent_part),
    )


class _Remainder(TypedDict):
    released_regular: int
    released_permanent: int
    forfeited_regular: int


def _returned_remainder(state: AccountState, reservation: Reservation, *, regular: int,
                        permanent: int) -> _Remainder:
    """Split what a reservation gives back: regular credits of an ended period are forfeited, not returned."""
    same_period = reservation.period_reset_at == state.reset_at
    return {
        "released_regular": regular if same_period else 0,
        "released_permanent": permanent,
        "forfeited_regular": 0 if same_period else regular,
    }


def _open_reservation(state: AccountState, job_id: str, *, capturing: bool) -> Reservation | None:
    """The job's open reservation; None if it already ended (nothing to do). Raises if there is none to end."""
    if (reservation := state.reservations.get(job_id)) is not None:
        return reservation
    outcome = state.ended_reservations.get(job_id)
    if outcome is None:
        raise UnknownJob(f"job {job_id} has no reservation on account {state.account_id}")
    if capturing and outcome.status == ReservationStatus.REFUSED:
        # Charging a refused job means its work ran unpaid: a bug upstream worth surfacing.
        raise ReservationWasRefused(f"job {job_id} was refused credits; there is nothing to capture")
    return None


def _require_identifier(name: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidCommand(f"{name} must be a non-empty string, got {value!r}")


def _require_credits(amount: object, *, minimum: int) -> None:
    # bool is an int subclass; True credits is a caller bug, not one credit.
    if type(amount) is not int or amount < minimum:
        raise InvalidAmount(f"credits must be a whole number >= {minimum}, got {amount!r}")


def _parse(vocabulary: type[_Word], what: str, value: object) -> _Word:
    if not isinstance(value, str):
        raise InvalidCommand(f"unknown {what} {value!r}")
    try:
        return vocabulary(value)
    except ValueError as exc:
        raise InvalidCommand(f"unknown {what} {value!r}") from exc


_DECIDERS: dict[type[Command], Callable[[AccountState, Any], list[Event]]] = {
    GrantCredits: _grant_credits,
    Reserve: _reserve,
    Capture: _capture,
    Release: _release,
    ExpireReservations: _expire_reservations,
    ResetMonthly: _reset_monthly,
}
