"""An account's usage history: one plain entry per ledger event, as the audit prints it and users page through it.

Entry types: ``grant`` (opening allowance and operator grants), ``reservation`` (credits held for a job),
``refusal`` (a job refused for lack of credits: nothing held), ``capture`` (a job's price spent, any remainder
returned), ``release`` (a job ended without charge: credits returned), ``reset`` (monthly allowance restored).
``amount`` is always positive; what it means is in the type: held, needed, spent, returned or granted.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from .serialization import event_from_dict
from .vocabulary import CreditKind

HISTORY_TYPES = ("grant", "reservation", "refusal", "capture", "release", "reset")


def history_entry(event: Event) -> dict[str, Any]:
    """{type, amount, jobId, creditKind, reason, forfeited} plus the event's identity and time."""
    entry: dict[str, Any] = {
        "eventId": event.event_id, "commandId": event.command_id, "sequence": event.sequence, "at": event.at,
        "jobId": getattr(event, "job_id", None), "creditKind": None, "reason": None, "forfeited": 0,
    }
    if isinstance(event, AccountOpened):
        entry.update(type="grant", amount=event.regular_granted, creditKind=CreditKind.REGULAR.value,
                     reason="account opened")
    elif isinstance(event, CreditsGranted):
        entry.update(type="grant", amount=event.amount, creditKind=event.kind, reason=event.reason)
    elif isinstance(event, CreditsReserved):
        entry.update(type="reservation", amount=event.amount)
    elif isinstance(event, ReservationRefused):
        entry.update(type="refusal", amount=event.needed_credits)
    elif isinstance(event, ReservationCaptured):
        entry.update(type="capture", amount=event.captured, forfeited=event.forfeited_regular)
    elif isinstance(event, ReservationReleased):
        entry.update(type="release", amount=event.released_regular + event.released_permanent,
                     reason=event.reason, forfeited=event.forfeited_regular)
    elif isinstance(event, MonthlyAllowanceReset):
        entry.update(type="reset", amount=event.regular_granted, forfeited=event.forfeited_regular)
    else:  # pragma: no cover - every event type is listed above
        raise TypeError(f"no history entry for {type(event).__name__}")
    return entry


def balance_summary(balance_after: Mapping[str, Any]) -> dict[str, int]:
    """The flat balance an entry shows, from a ledger envelope's ``balanceAfter``."""
    return {
        "credits": balance_after["credits"],
        "regular": balance_after["breakdown"]["regular"],
        "permanent": balance_after["breakdown"]["permanent"],
        "reserved": balance_after["reserved"],
    }


def entry_document(payload: dict[str, Any]) -> dict[str, Any]:
    """The stored history entry of one ledger envelope payload ({"accountId", "ledgerEvent", "balanceAfter"}).

    ``_id`` is the event id, so storing a redelivered envelope again is a no-op."""
    entry = history_entry(event_from_dict(payload["ledgerEvent"]))
    return {"_id": entry.pop("eventId"), "accountId": payload["accountId"], **entry,
            "balanceAfter": balance_summary(payload["balanceAfter"])}
