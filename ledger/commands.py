"""What callers ask the ledger to do. Each command carries its own id (for idempotency) and its time `at`."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from .message import Message


@dataclass(frozen=True, kw_only=True)
class Command(Message):
    command_id: str  # unique per account; a redelivered command keeps its id and is applied once
    account_id: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class OpenAccount(Command):
    WIRE_NAME: ClassVar[str] = "OpenAccount"
    monthly_allowance: int  # regular credits granted at opening and at every monthly reset
    reset_at: datetime      # the first reset; later resets fall on the same day-of-month


@dataclass(frozen=True, kw_only=True)
class GrantCredits(Command):
    WIRE_NAME: ClassVar[str] = "GrantCredits"
    amount: int
    kind: str    # CreditKind: "regular" | "permanent"
    reason: str  # free text for the audit trail ("purchase", "promotion", ...)


@dataclass(frozen=True, kw_only=True)
class Reserve(Command):
    WIRE_NAME: ClassVar[str] = "Reserve"
    job_id: str
    amount: int
    expires_at: datetime  # after this, ExpireReservations may release the hold


@dataclass(frozen=True, kw_only=True)
class Capture(Command):
    WIRE_NAME: ClassVar[str] = "Capture"
    job_id: str
    amount: int  # at most what was reserved; the rest is released


@dataclass(frozen=True, kw_only=True)
class Release(Command):
    WIRE_NAME: ClassVar[str] = "Release"
    job_id: str
    reason: str  # ReleaseReason


@dataclass(frozen=True, kw_only=True)
class ExpireReservations(Command):
    """Release every open reservation whose expires_at <= at."""
    WIRE_NAME: ClassVar[str] = "ExpireReservations"


@dataclass(frozen=True, kw_only=True)
class ResetMonthly(Command):
    """If at >= reset_at: regular balance := monthly allowance, and reset_at moves past `at`."""
    WIRE_NAME: ClassVar[str] = "ResetMonthly"


COMMAND_TYPES: tuple[type[Command], ...] = (
    OpenAccount, GrantCredits, Reserve, Capture, Release, ExpireReservations, ResetMonthly,
)
