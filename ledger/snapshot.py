"""An AccountState to and from a JSON-able dict: the snapshot a partition owner keeps between commands.

A snapshot is a cache of the fold, never the truth: the ledger events are. It must round-trip exactly, so
`state_from_dict(state_to_dict(s)) == s` (checked by a property test).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .errors import SerializationError
from .state import AccountState, Reservation, ReservationOutcome
from .timestamps import format_exact, to_utc
from .vocabulary import ReservationStatus

SNAPSHOT_VERSION = 1


def _time(value: datetime) -> str:
    return format_exact(value)


def state_to_dict(state: AccountState) -> dict[str, Any]:
    return {
        "version": SNAPSHOT_VERSION,
        "account_id": state.account_id,
        "monthly_allowance": state.monthly_allowance,
        "regular": state.regular,
        "permanent": state.permanent,
        "reset_at": _time(state.reset_at),
        "reset_anchor": _time(state.reset_anchor),
        "sequence": state.sequence,
        "reservations": {
            job_id: {
                "regular_part": r.regular_part,
                "permanent_part": r.permanent_part,
                "reserved_at": _time(r.reserved_at),
                "expires_at": _time(r.expires_at),
                "period_reset_at": _time(r.period_reset_at),
            }
            for job_id, r in state.reservations.items()
        },
        "ended_reservations": {
            job_id: {
                "status": str(o.status),
                "requested": o.requested,
                "captured": o.captured,
                "released": o.released,
                "forfeited": o.forfeited,
                "available_credits": o.available_credits,
                "release_reason": o.release_reason,
            }
            for job_id, o in state.ended_reservations.items()
        },
        "applied_command_ids": sorted(state.applied_command_ids),
    }


def state_from_dict(data: dict[str, Any]) -> AccountState:
    if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
        version = data.get("version") if isinstance(data, dict) else None
        raise SerializationError(f"unsupported account snapshot (version {version!r})")
    try:
        return AccountState(
            account_id=data["account_id"],
            monthly_allowance=data["monthly_allowance"],
            regular=data["regular"],
            permanent=data["permanent"],
            reset_at=to_utc(data["reset_at"]),
            reset_anchor=to_utc(data["reset_anchor"]),
            sequence=data["sequence"],
            reservations={
                job_id: Reservation(
                    job_id=job_id,
                    regular_part=r["regular_part"],
                    permanent_part=r["permanent_part"],
                    reserved_at=to_utc(r["reserved_at"]),
                    expires_at=to_utc(r["expires_at"]),
                    period_reset_at=to_utc(r["period_reset_at"]),
                )
                for job_id, r in data["reservations"].items()
            },
            ended_reservations={
                job_id: ReservationOutcome(
                    job_id=job_id,
                    status=ReservationStatus(o["status"]),
                    requested=o["requested"],
                    captured=o["captured"],
                    released=o["released"],
                    forfeited=o["forfeited"],
                    available_credits=o["available_credits"],
                    release_reason=o["release_reason"],
                )
                for job_id, o in data["ended_reservations"].items()
            },
            applied_command_ids=frozenset(data["applied_command_ids"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"malformed account snapshot: {exc!r}") from exc
