"""What happened to an account. Events carry every number evolve needs, so replay never re-decides.

Identity: `event_id` is derived from (account_id, command_id, position within the command), so a command
decided twice yields the same ids; `sequence` is the event's position in the account's stream (1, 2, ...),
which lets evolve skip an event delivered twice.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .message import Message

# Fixed namespace: changing it would change every derived event id.
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c3c5e-2b7a-4f0e-9a53-1d4e8c0b7a21")


def derive_event_id(account_id: str, command_id: str, index: int) -> str:
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{account_id}\x1f{command_id}\x1f{index}"))


@dataclass(frozen=True, kw_only=True)
class Event(Message):
    event_id: str
    account_id: str
    command_id: str  # the command that caused it
    sequence: int    # 1-based position in the account's event stream
    at: datetime


@dataclass(frozen=True, kw_only=True)
class AccountOpened(Event):
    WIRE_NAME: ClassVar[str] = "AccountOpened"
    monthly_allowance: int
    reset_at: datetime     # first reset; also the anchor of every later one
    regular_granted: int   # the first period's allowance


@dataclass(frozen=True, kw_only=True)
class CreditsGranted(Event):
    WIRE_NAME: ClassVar[str] = "CreditsGranted"
    amount: int
    kind: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class CreditsReserved(Event):
    WIRE_NAME: ClassVar[str] = "CreditsReserved"
    job_id: str
    regular_part: int     # taken from the regular balance (spent first)
    permanent_part: int   # taken from the permanent balance
    expires_at: datetime

    @property
    def amount(self) -> int:
        return self.regular_part + self.permanent_part


@dataclass(frozen=True, kw_only=True)
class ReservationRefused(Event):
    WIRE_NAME: ClassVar[str] = "ReservationRefused"
    job_id: str
    available_credits: int  # the 429 answer's `credits`
    needed_credits: int     # the 429 answer's `needCredits`


@dataclass(frozen=True, kw_only=True)
class ReservationCaptured(Event):
    WIRE_NAME: ClassVar[str] = "ReservationCaptured"
    job_id: str
    captured_regular: int
    captured_permanent: int
    released_regular: int    # remainder returned to the regular balance
    released_permanent: int  # remainder returned to the permanent balance
    forfeited_regular: int   # remainder of a regular part whose period has ended: not returned

    @property
    def captured(self) -> int:
        return self.captured_regular + self.captured_permanent


@dataclass(frozen=True, kw_only=True)
class ReservationReleased(Event):
    WIRE_NAME: ClassVar[str] = "ReservationReleased"
    job_id: str
    reason: str  # ReleaseReason
    released_regular: int
    released_permanent: int
    forfeited_regular: int


@dataclass(frozen=True, kw_only=True)
class MonthlyAllowanceReset(Event):
    WIRE_NAME: ClassVar[str] = "MonthlyAllowanceReset"
    previous_reset_at: datetime
    next_reset_at: datetime
    forfeited_regular: int  # regular balance left over from the ended period
    regular_granted: int    # the new period's allowance (becomes the regular balance)


EVENT_TYPES: tuple[type[Event], ...] = (
    AccountOpened, CreditsGranted, CreditsReserved, ReservationRefused,
    ReservationCaptured, ReservationReleased, MonthlyAllowanceReset,
)
