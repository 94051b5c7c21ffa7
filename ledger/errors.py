"""Why the ledger says no.

`DomainError` and its subclasses reject a command: nothing happened, no event is written. Running short of
credits is deliberately *not* one of them: it is a fact worth recording (`ReservationRefused`).
"""
from __future__ import annotations


class DomainError(Exception):
    """A command the ledger cannot accept."""


class InvalidCommand(DomainError):
    """A command is malformed (empty identifier, unknown kind or reason)."""


class InvalidTimestamp(InvalidCommand):
    """A time is not an ISO-8601 string or datetime with a UTC offset."""


class InvalidAmount(InvalidCommand):
    """A credit amount is not a whole number in the allowed range."""


class InvalidExpiry(InvalidCommand):
    """A reservation would expire before (or when) it is made."""


class InvalidResetDate(InvalidCommand):
    """An account's first monthly reset is not after its opening."""


class UnknownAccount(DomainError):
    """A command names an account that was never opened."""


class AccountAlreadyOpened(DomainError):
    """A second, different OpenAccount for an existing account."""


class AccountMismatch(DomainError):
    """A command was decided against another account's state (a wiring bug in the caller)."""


class UnknownJob(DomainError):
    """Capture or release of a job that was never reserved."""


class ReservationWasRefused(DomainError):
    """Capture for a job whose reservation was refused: its work must not have run."""


class CaptureExceedsReservation(DomainError):
    """Capture of more credits than the job reserved."""


class CorruptEventStream(Exception):
    """Events that cannot follow the account's history (gap in sequence, unknown job, event before opening).

    Not a DomainError: it means the stored log is damaged, not that a caller sent a bad command.
    """


class SerializationError(ValueError):
    """A dict is not a valid serialised command or event."""
