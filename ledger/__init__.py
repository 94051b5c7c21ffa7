"""The credit ledger's pure domain: commands in, events out, balances as a fold over events.

    events = decide(state, command)        # raises DomainError to reject; [] when there is nothing to do
    state = evolve(state, event)           # for each event; replay(events) folds a whole log
    events, state = apply_command(state, command)

No I/O and no clock: every time arrives on a command (`at`). The rules decide() applies are listed in
ledger/decide.py. Decisions worth knowing before you call it:

- Idempotency. A command id already applied to the account decides nothing. The ids are kept in the state for
  ever (`applied_command_ids`): correctness first. The state grows by one id per applied command; bounding it
  (forgetting ids older than the longest possible redelivery delay) would trade memory for a small window of
  double application, and is left for when an account's history makes it matter. Reserve/Capture/Release are
  additionally idempotent by job id (ended reservations are kept too), ExpireReservations and ResetMonthly by
  their nature (time conditions), so only GrantCredits leans on the id set alone.
- Event identity. event_id = uuid5(account_id, command_id, index in the command), so re-deciding a command
  gives the same ids; `sequence` (1, 2, ... per account) lets evolve and replay skip an event delivered twice
  and detect a gap.
- Monthly reset vs. held credits. A reset sets the regular balance to the allowance and forfeits what was left;
  regular credits held by a reservation at that moment belong to the ended period, so when that reservation is
  released (or captured for less) its regular remainder is forfeited (`forfeited_regular` on the event), not
  returned. Permanent parts always come back. Reserve applies a due reset before deciding.
- Conservation: granted (opening + grants + reset allowances) - captured - forfeited
  = regular + permanent + reserved_total, for every account, after every event.

Around the core, still pure: `ledger.records` (the partition owner's state as small key/value records, so a
decision costs O(jobs in flight), not O(history)), `ledger.schedule` (the expiries and monthly resets an account is
due for, with deterministic command ids), `ledger.history` (one usage-history entry per event) and `ledger.audit`
(fold a ledger log from its first record, prove every recorded balance, compare with the views). The I/O around
them lives in streams/ (ledger_agent, ledger_timer) and frontdoor/ (admin audit, usage); see docs/ledger.md.
"""
from .billing_period import add_months, next_reset_after
from .commands import (
    COMMAND_TYPES,
    Capture,
    Command,
    ExpireReservations,
    GrantCredits,
    OpenAccount,
    Release,
    Reserve,
    ResetMonthly,
)
from .decide import apply_command, decide
from .errors import (
    AccountAlreadyOpened,
    AccountMismatch,
    CaptureExceedsReservation,
    CorruptEventStream,
    DomainError,
    InvalidAmount,
    InvalidCommand,
    InvalidExpiry,
    InvalidResetDate,
    InvalidTimestamp,
    ReservationWasRefused,
    SerializationError,
    UnknownAccount,
    UnknownJob,
)
from .events import (
    EVENT_TYPES,
    AccountOpened,
    CreditsGranted,
    CreditsReserved,
    Event,
    MonthlyAllowanceReset,
    ReservationCaptured,
    ReservationRefused,
    ReservationReleased,
    derive_event_id,
)
from .serialization import command_from_dict, event_from_dict, to_dict
from .state import AccountState, Reservation, ReservationOutcome, evolve, replay
from .view import to_refusal_view, to_view
from .vocabulary import CreditKind, ReleaseReason, ReservationStatus

__all__ = [
    "COMMAND_TYPES", "EVENT_TYPES",
    "AccountAlreadyOpened", "AccountMismatch", "AccountOpened", "AccountState", "Capture",
    "CaptureExceedsReservation", "Command", "CorruptEventStream", "CreditKind", "CreditsGranted",
    "CreditsReserved", "DomainError", "Event", "ExpireReservations", "GrantCredits", "InvalidAmount",
    "InvalidCommand", "InvalidExpiry", "InvalidResetDate", "InvalidTimestamp", "MonthlyAllowanceReset",
    "OpenAccount", "Release", "ReleaseReason", "Reservation", "ReservationCaptured", "ReservationOutcome",
    "ReservationRefused", "ReservationReleased", "ReservationStatus", "ReservationWasRefused", "Reserve",
    "ResetMonthly", "SerializationError", "UnknownAccount", "UnknownJob",
    "add_months", "apply_command", "command_from_dict", "decide", "derive_event_id", "event_from_dict",
    "evolve", "next_reset_after", "replay", "to_dict", "to_refusal_view", "to_view",
]
