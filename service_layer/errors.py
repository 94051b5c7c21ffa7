"""Domain errors: what a use case refuses, independent of how a surface (HTTP, CLI) reports it."""
from __future__ import annotations


class DomainError(Exception):
    """A use case could not be carried out; ``message`` is safe to show to the caller."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """The request is malformed or not allowed as asked (HTTP 400)."""


class NotFound(DomainError):
    """The thing does not exist or belongs to another account; the two are never told apart (HTTP 404)."""


class InsufficientCredits(DomainError):
    """The ledger refused the reservation: ``credits`` available, ``need_credits`` asked (HTTP 429)."""

    def __init__(self, credits: int, need_credits: int, message: str = "Insufficient credits"):
        super().__init__(message)
        self.credits = credits
        self.need_credits = need_credits


class ServiceUnavailable(DomainError):
    """A service behind a port (queue, storage) is down; nothing was charged and a retry is safe (HTTP 503)."""
