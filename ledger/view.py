"""Read models shaped as the public API answers them (GET /api/v1/credits, 429 USAGE_LIMIT_EXCEEDED)."""
from __future__ import annotations

from typing import Any

from .events import ReservationRefused
from .state import AccountState, ReservationOutcome
from .timestamps import format_millis


def to_view(state: AccountState) -> dict[str, Any]:
    """The balance as GET /api/v1/credits reports it (the HTTP layer adds "success": true).

    As of the last event: a reset that is due but not yet applied shows once ResetMonthly runs.
    """
    return {
        "credits": state.available,
        "breakdown": {
            "regular": state.regular,
            "permanent": state.permanent,
            "resetAt": format_millis(state.reset_at),
        },
    }


def to_refusal_view(refusal: ReservationRefused | ReservationOutcome) -> dict[str, int]:
    """The numbers of a 429 USAGE_LIMIT_EXCEEDED answer: what the account had and what the job needed."""
    if isinstance(refusal, ReservationRefused):
        return {"credits": refusal.available_credits, "needCredits": refusal.needed_credits}
    if refusal.available_credits is None:
        raise ValueError(f"job {refusal.job_id} was not refused (status {refusal.status})")
    return {"credits": refusal.available_credits, "needCredits": refusal.requested}
