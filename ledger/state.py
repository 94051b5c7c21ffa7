"""An account's balance as a fold over its events: `evolve` applies one event, `replay` folds a whole log.

States are values: never mutate one (its dict and set fields included); evolve returns a new state.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from .errors import CorruptEventStream
from .events import (
    AccountOpened,
    CreditsGranted,
    CreditsReserved,
    Event,
    MonthlyAllowanceReset,
    ReservationCaptured,
    ReservationRefused,
    ReservationReleased,
)
from .vocabulary import CreditKind, ReservationStatus


@dataclass(frozen=True, kw_only=True)
class Reservation:
    """Credits held for a job that has not ended yet."""

    job_id: str
    regular_part: int
    permanent_part: int
    reserved_at: datetime
    expires_at: datetime
    period_reset_at: datetime  # reset_at when reserved: identifies the period its regular part belongs to

    @property
    def amount(self) -> int:
        return self.regular_part + self.permanent_part


@dataclass(frozen=True, kw_only=True)
class ReservationOutcome:
    """The answer to "what happened to job X?", enough to re-answer a duplicate request."""

    job_id: str
    status: ReservationStatus
    requested: int               # credits the job asked to reserve (the 429's needCredits when refused)
    captured: int = 0
    released: int = 0            # returned to the balance
    forfeited: int = 0           # regular credits of an ended period that were not returned
    available_credits: int | None = None  # refused only: the balance at the time (the 429's credits)
    release_reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class AccountState:
    account_id: str
    monthly_allowance: int
    regular: int     # spendable regular credits (open reservations already deducted)
    permanent: int   # spendable permanent credits (open reservations already deducted)
    reset_at: datetime
    reset_anchor: datetime  # the first reset date; later resets keep its day-of-month
    sequence: int           # number of events applied = sequence of the last one
    reservations: Mapping[str, Reservation]             # open, by job id
    ended_reservations: Mapping[str, ReservationOutcome]  # captured, released or refused, by job id
    # Every command that produced events. Kept for ever: correctness over memory (see ledger/__init__.py).
    applied_command_ids: frozenset[str]

    @property
    def available(self) -> int:
        return self.regular + self.permanent

    @property
    def reserved_total(self) -> int:
        return sum(r.amount for r in self.reservations.values())

    def reservation_outcome(self, job_id: str) -> ReservationOutcome | None:
        """Where the job's reservation stands, or None if the ledger never heard of the job."""
        if (open_reservation := self.reservations.get(job_id)) is not None:
            return ReservationOutcome(
                job_id=job_id, status=ReservationStatus.RESERVED, requested=open_reservation.amount
            )
        return self.ended_reservations.get(job_id)


def evolve(state: AccountState | None, event: Event) -> AccountState:
    """The state after `event`. An event at or below the state's sequence was already applied: no change."""
    if state is None:
        return _AccountDraft.opened_by(event).freeze()
    if event.account_id != state.account_id:
        raise CorruptEventStream(f"event {event.event_id} is for {event.account_id}, not {state.account_id}")
    if event.sequence <= state.sequence:
        return state
    draft = _AccountDraft.thaw(state)
    draft.apply(event)
    return draft.freeze()


def replay(events: Iterable[Event]) -> dict[str, AccountState]:
    """Fold a ledger log (any interleaving of accounts, duplicates allowed) into every account's state."""
    # One mutable draft per account, frozen once at the end: replay stays linear in the log's length.
    drafts: dict[str, _AccountDraft] = {}
    for event in events:
        draft = drafts.get(event.account_id)
        if draft is None:
            drafts[event.account_id] = _AccountDraft.opened_by(event)
        else:
            draft.apply(event)
    return {account_id: draft.freeze() for account_id, draft in drafts.items()}


@dataclass
class _AccountDraft:
    """A mutable working copy of an AccountState; the single place where events change balances."""

    account_id: str
    monthly_allowance: int
    regular: int
    permanent: int
    reset_at: datetime
    reset_anchor: datetime
    sequence: int
    reservations: dict[str, Reservation]
    ended_reservations: dict[str, ReservationOutcome]
    applied_command_ids: set[str]

    @classmethod
    def thaw(cls, state: AccountState) -> _AccountDraft:
        values = {f.name: getattr(state, f.name) for f in fields(AccountState)}
        values["reservations"] = dict(state.reservations)
        values["ended_reservations"] = dict(state.ended_reservations)
        values["applied_command_ids"] = set(state.applied_command_ids)
        return cls(**values)

    @classmethod
    def opened_by(cls, event: Event) -> _AccountDraft:
        if not isinstance(event, AccountOpened) or event.sequence != 1:
            raise CorruptEventStream(
                f"account {event.account_id}'s stream must start with AccountOpened #1, "
                f"got {type(event).__name__} #{event.sequence}"
            )
        return cls(
            account_id=event.account_id,
            monthly_allowance=event.monthly_allowance,
            regular=event.regular_granted,
            permanent=0,
            reset_at=event.reset_at,
            reset_anchor=event.reset_at,
            sequence=1,
            reservations={},
            ended_reservations={},
            applied_command_ids={event.command_id},
        )

    def freeze(self) -> AccountState:
        # The draft's dicts are handed over, not copied: a draft is never used after freezing.
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["applied_command_ids"] = frozenset(self.applied_command_ids)
        return AccountState(**values)

    def apply(self, event: Event) -> None:
        expected = self.sequence + 1
        if event.sequence < expected:
            return  # redelivered: already applied
        if event.sequence > expected:
            raise CorruptEventStream(
                f"account {event.account_id}: event #{event.sequence} follows #{expected - 1} (events missing)"
            )
        handler = _HANDLERS.get(type(event))
        if handler is None:
            raise CorruptEventStream(f"{type(event).__name__} #{event.sequence} cannot follow an opened account")
        handler(self, event)
        self.sequence = event.sequence
        self.applied_command_ids.add(event.command_id)

    def _credit(self, regular: int, permanent: int) -> None:
        self.regular += regular
        self.permanent += permanent

    def _end(self, job_id: str) -> Reservation:
        reservation = self.reservations.pop(job_id, None)
        if reservation is None:
            raise CorruptEventStream(f"account {self.account_id}: job {job_id} has no open reservation")
        return reservation

    def _granted(self, event: CreditsGranted) -> None:
        if event.kind == CreditKind.REGULAR:
            self._credit(event.amount, 0)
        elif event.kind == CreditKind.PERMANENT:
            self._credit(0, event.amount)
        else:
            raise CorruptEventStream(f"event {event.event_id}: unknown credit kind {event.kind!r}")

    def _reserved(self, event: CreditsReserved) -> None:
        self._credit(-event.regular_part, -event.permanent_part)
        self.reservations[event.job_id] = Reservation(
            job_id=event.job_id,
            regular_part=event.regular_part,
            permanent_part=event.permanent_part,
            reserved_at=event.at,
            expires_at=event.expires_at,
            period_reset_at=self.reset_at,
        )

    def _refused(self, event: ReservationRefused) -> None:
        self.ended_reservations[event.job_id] = ReservationOutcome(
            job_id=event.job_id,
            status=ReservationStatus.REFUSED,
            requested=event.needed_credits,
            available_credits=event.available_credits,
        )

    def _captured(self, event: ReservationCaptured) -> None:
        reservation = self._end(event.job_id)
        self._credit(event.released_regular, event.released_permanent)
        self.ended_reservations[event.job_id] = ReservationOutcome(
            job_id=event.job_id,
            status=ReservationStatus.CAPTURED,
            requested=reservation.amount,
            captured=event.captured,
            released=event.released_regular + event.released_permanent,
            forfeited=event.forfeited_regular,
        )

    def _released(self, event: ReservationReleased) -> None:
        reservation = self._end(event.job_id)
        self._credit(event.released_regular, event.released_permanent)
        self.ended_reservations[event.job_id] = ReservationOutcome(
            job_id=event.job_id,
            status=ReservationStatus.RELEASED,
            requested=reservation.amount,
            released=event.released_regular + event.released_permanent,
            forfeited=event.forfeited_regular,
            release_reason=event.reason,
        )

    def _reset(self, event: MonthlyAllowanceReset) -> None:
        self.regular = event.regular_granted
        self.reset_at = event.next_reset_at


# Each handler takes the event type it is listed under.
_HANDLERS: dict[type, Callable[[_AccountDraft, Any], None]] = {
    CreditsGranted: _AccountDraft._granted,
    CreditsReserved: _AccountDraft._reserved,
    ReservationRefused: _AccountDraft._refused,
    ReservationCaptured: _AccountDraft._captured,
    ReservationReleased: _AccountDraft._released,
    MonthlyAllowanceReset: _AccountDraft._reset,
}
