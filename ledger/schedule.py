"""Time-driven commands: which ExpireReservations / ResetMonthly an account is due for at a given moment (pure).

The timer that calls this runs in every worker, possibly twice for one account (a rebalance, two ticks before the
first command is decided). So command ids are deterministic:

- ``reset:<account>:<reset_at>``: one per period. A second one for the same period is a known command id (when
  the first did something) or not due any more (decide returns []).
- ``expire:<account>:<sequence>``: one per account state. Two ticks that saw the same state publish the same id;
  the first that releases anything makes the second a no-op; one that released nothing leaves no trace.

Either way a duplicate decides nothing, and the commands go through the requests topic, so they are decided in
order with every other command of the account by its partition's owner.
"""
from __future__ import annotations

from datetime import datetime

from .commands import Command, ExpireReservations, ResetMonthly
from .records import Deadlines
from .timestamps import format_exact


def due_commands(deadlines: Deadlines, now: datetime) -> list[Command]:
    """The commands due for an account at `now` (the reset first: expiries then belong to the new period's view)."""
    commands: list[Command] = []
    if now >= deadlines.reset_at:
        commands.append(ResetMonthly(
            command_id=f"reset:{deadlines.account_id}:{format_exact(deadlines.reset_at)}",
            account_id=deadlines.account_id, at=now))
    if deadlines.next_expiry is not None and deadlines.next_expiry <= now:
        commands.append(ExpireReservations(
            command_id=f"expire:{deadlines.account_id}:{deadlines.sequence}",
            account_id=deadlines.account_id, at=now))
    return commands
