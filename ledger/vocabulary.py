"""Closed sets of words used by commands, events and state."""
from __future__ import annotations

from enum import StrEnum


class CreditKind(StrEnum):
    REGULAR = "regular"      # the monthly allowance; what is left is forfeited at each reset
    PERMANENT = "permanent"  # bought credits; never expire


class ReleaseReason(StrEnum):
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    EXPIRED = "expired"  # what ExpireReservations records


class ReservationStatus(StrEnum):
    RESERVED = "reserved"  # credits held, job not ended
    REFUSED = "refused"    # not enough credits; nothing was held
    CAPTURED = "captured"  # job done, credits spent (any remainder returned)
    RELEASED = "released"  # job ended without charge, credits returned
