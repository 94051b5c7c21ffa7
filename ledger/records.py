"""How a partition owner keeps an account's state as small key/value records (pure: no I/O).

A whole AccountState grows with every job the account ever ran: ended reservations and applied command ids are
kept for idempotency. Rewriting it on every command would make each command cost O(history) in CPU and changelog
bytes, and a busy account would soon exceed Kafka's message size. So the owner keeps, per account:

- one *core* record (key = the account id): balances, reset dates, sequence and the OPEN reservations only, so
  it stays as small as the jobs in flight;
- one *memo* per ended job (key = account \\x1f job \\x1f job id: its outcome) and one per command that produced
  events (key = account \\x1f cmd \\x1f command id), each tagged with the sequence of the event that made it.

To decide a command, the owner loads the core plus the two memos that command can ask about (its own command id,
its job id). decide() consults nothing else of the idempotency sets, so the decision equals the one the full
state gives (tests/unit/test_ledger_records.py checks this against replay over random command sequences).

Crash safety. The records of one command are written in order, memos first and the core last, to one changelog
partition, after its events are on the ledger topic. A crash keeps a prefix of them. A memo whose sequence is
above its core's belongs to a command whose core was never written: it is ignored, the command is redelivered
(its offset was not committed) and decided again into the same event ids and sequences.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .errors import InvalidCommand, SerializationError
from .events import Event, ReservationCaptured, ReservationRefused, ReservationReleased
from .snapshot import state_from_dict
from .state import AccountState, Reservation, ReservationOutcome
from .timestamps import format_exact, to_utc
from .vocabulary import ReservationStatus

CORE_VERSION = 1
_SEP = "\x1f"
_SEP_BYTES = _SEP.encode()
_ENDING_EVENTS = (ReservationRefused, ReservationCaptured, ReservationReleased)

Lookup = Callable[[bytes], "bytes | None"]


def core_key(account_id: str) -> bytes:
    return account_id.encode()


def command_key(account_id: str, command_id: str) -> bytes:
    return f"{account_id}{_SEP}cmd{_SEP}{command_id}".encode()


def job_key(account_id: str, job_id: str) -> bytes:
    return f"{account_id}{_SEP}job{_SEP}{job_id}".encode()


def is_core_key(key: bytes) -> bool:
    """Account ids never contain the separator, so a key without it is a core record."""
    return _SEP_BYTES not in key


# --- the core record -----------------------------------------------------------------------------------------------

def core_to_bytes(state: AccountState) -> bytes:
    return json.dumps({
        "core": CORE_VERSION,
        "account_id": state.account_id,
        "monthly_allowance": state.monthly_allowance,
        "regular": state.regular,
        "permanent": state.permanent,
        "reset_at": format_exact(state.reset_at),
        "reset_anchor": format_exact(state.reset_anchor),
        "sequence": state.sequence,
        "reservations": {
            job_id: [r.regular_part, r.permanent_part, format_exact(r.reserved_at), format_exact(r.expires_at),
                     format_exact(r.period_reset_at)]
            for job_id, r in state.reservations.items()
        },
    }, separators=(",", ":")).encode()


def core_from_bytes(raw: bytes) -> AccountState:
    """The account's core: balances and open reservations, with empty idempotency sets.

    A record written before memos existed holds the whole state (ledger/snapshot.py): it is returned whole, and
    the first command decided on it writes memos for everything it remembers (see records_after).
    """
    try:
        data = json.loads(raw)
        if data.get("core") is None and "ended_reservations" in data:
            return state_from_dict(data)
        if data.get("core") != CORE_VERSION:
            raise SerializationError(f"unsupported core record version {data.get('core')!r}")
        return AccountState(
            account_id=data["account_id"],
            monthly_allowance=data["monthly_allowance"],
            regular=data["regular"],
            permanent=data["permanent"],
            reset_at=to_utc(data["reset_at"]),
            reset_anchor=to_utc(data["reset_anchor"]),
            sequence=data["sequence"],
            reservations={
                job_id: Reservation(job_id=job_id, regular_part=r[0], permanent_part=r[1], reserved_at=to_utc(r[2]),
                                    expires_at=to_utc(r[3]), period_reset_at=to_utc(r[4]))
                for job_id, r in data["reservations"].items()
            },
            ended_reservations={},
            applied_command_ids=frozenset(),
        )
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        raise SerializationError(f"malformed core record: {exc!r}") from exc


@dataclass(frozen=True)
class Deadlines:
    """What the timer needs of an account: when its next reset and its earliest reservation expiry are due."""

    account_id: str
    sequence: int
    reset_at: datetime
    next_expiry: datetime | None


def deadlines(state: AccountState) -> Deadlines:
    expiries = [r.expires_at for r in state.reservations.values()]
    return Deadlines(state.account_id, state.sequence, state.reset_at, min(expiries) if expiries else None)


# --- memos ---------------------------------------------------------------------------------------------------------

def _outcome_to_bytes(outcome: ReservationOutcome, sequence: int) -> bytes:
    return json.dumps({
        "sequence": sequence, "status": str(outcome.status), "requested": outcome.requested,
        "captured": outcome.captured, "released": outcome.released, "forfeited": outcome.forfeited,
        "available_credits": outcome.available_credits, "release_reason": outcome.release_reason,
    }, separators=(",", ":")).encode()


def _memo_sequence(raw: bytes) -> tuple[int, dict[str, Any]]:
    try:
        data = json.loads(raw)
        return int(data["sequence"]), data
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"malformed memo record: {exc!r}") from exc


def decision_state(account_id: str, command_id: str, job_id: str | None, get: Lookup,
                   core: AccountState | None = None) -> AccountState | None:
    """The state to decide one command with: the core plus the memos of this command id and job id.

    `core` may be passed when the caller has it parsed already (it must be the stored core record's content).
    """
    if _SEP in account_id:
        raise InvalidCommand(f"account id {account_id!r} contains a control character")
    if core is None:
        raw = get(core_key(account_id))
        if raw is None:
            return None
        core = core_from_bytes(raw)
    if core.applied_command_ids:
        return core  # a legacy whole-state record: it remembers everything itself
    applied: frozenset[str] = frozenset()
    raw = get(command_key(account_id, command_id))
    if raw is not None and _memo_sequence(raw)[0] <= core.sequence:
        applied = frozenset({command_id})
    ended: dict[str, ReservationOutcome] = {}
    if job_id is not None and job_id not in core.reservations:
        raw = get(job_key(account_id, job_id))
        if raw is not None:
            sequence, data = _memo_sequence(raw)
            if sequence <= core.sequence:
                try:
                    ended[job_id] = ReservationOutcome(
                        job_id=job_id, status=ReservationStatus(data["status"]), requested=data["requested"],
                        captured=data["captured"], released=data["released"], forfeited=data["forfeited"],
                        available_credits=data["available_credits"], release_reason=data["release_reason"])
                except (KeyError, ValueError) as exc:
                    raise SerializationError(f"malformed job memo for {job_id}: {exc!r}") from exc
    if not applied and not ended:
        return core
    return AccountState(
        account_id=core.account_id, monthly_allowance=core.monthly_allowance, regular=core.regular,
        permanent=core.permanent, reset_at=core.reset_at, reset_anchor=core.reset_anchor, sequence=core.sequence,
        reservations=core.reservations, ended_reservations=ended, applied_command_ids=applied,
    )


def records_after(after: AccountState, events: Iterable[Event]) -> list[tuple[bytes, bytes]]:
    """The records to write once `events` (one command's) are on the ledger: memos first, the core last.

    Memos are written for every ended job and applied command id `after` knows. For a state from
    decision_state() that is exactly what `events` added (a command that finds its own id or its job's memo
    decides nothing); for a legacy whole-state record it migrates its whole memory once.
    """
    events = list(events)
    if not events:
        return []
    sequence_of: dict[str, int] = {}
    for event in events:
        sequence_of[event.command_id] = event.sequence
        if isinstance(event, _ENDING_EVENTS):
            sequence_of[f"{_SEP}job{_SEP}{event.job_id}"] = event.sequence
    records: list[tuple[bytes, bytes]] = []
    for job_id, outcome in after.ended_reservations.items():
        sequence = sequence_of.get(f"{_SEP}job{_SEP}{job_id}", after.sequence)
        records.append((job_key(after.account_id, job_id), _outcome_to_bytes(outcome, sequence)))
    for command_id in sorted(after.applied_command_ids):
        records.append((command_key(after.account_id, command_id),
                        json.dumps({"sequence": sequence_of.get(command_id, after.sequence)},
                                   separators=(",", ":")).encode()))
    records.append((core_key(after.account_id), core_to_bytes(after)))
    return records
