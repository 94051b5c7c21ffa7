"""Credits: grant credits (through the ledger), read balances and the usage history.

Credits move only through the ledger: these use cases publish ledger commands; the ledger agent decides them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ledger
from ledger.billing_period import add_months
from schemas import events as ev
from schemas import messages as msg

from .errors import InvalidInput, ServiceUnavailable
from .keys import require_account
from .ports import Doc, Ports, Unavailable

CREDIT_KINDS = ("regular", "permanent")


def ledger_command_event(command: ledger.Command) -> ev.Event:
    """The requests-topic event that carries any ledger command other than a job's reservation."""
    return msg.LedgerCommand.of(command).envelope()


def publish_ledger_command(ports: Ports, command: ledger.Command) -> None:
    try:
        ports.publisher.publish(ev.TOPIC_REQUESTS, command.account_id, ledger_command_event(command))
    except Unavailable as exc:
        raise ServiceUnavailable(f"The request queue is unavailable; {exc}") from exc


def first_of_next_month(now: datetime) -> datetime:
    return add_months(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), 1)


@dataclass(frozen=True)
class GrantOutcome:
    command_id: str
    entry: Doc | None  # the grant's usage-history entry once the ledger decided it; None if not seen in time


def check_grant(amount: object, kind: str) -> None:
    if type(amount) is not int or amount < 1:
        raise InvalidInput(f"amount must be a whole number of credits >= 1, got {amount!r}")
    if kind not in CREDIT_KINDS:
        raise InvalidInput(f"kind must be regular or permanent, got {kind!r}")


def grant(ports: Ports, account_id: str, amount: int, kind: str, reason: str, *,
          idempotency_key: str | None = None, wait_s: float = 0.0) -> GrantOutcome:
    """Publish a grant to the ledger; with ``wait_s``, wait that long for its decision to show in the history.

    The same ``idempotency_key`` grants once however often it is sent (the ledger knows its command id).
    Raises InvalidInput, NotFound (account), ServiceUnavailable."""
    check_grant(amount, kind)
    require_account(ports, account_id)
    command_id = f"grant:{idempotency_key}" if idempotency_key else ports.new_id("grant_", 24)
    publish_ledger_command(ports, ledger.GrantCredits(
        command_id=command_id, account_id=account_id, at=ports.clock(), amount=amount, kind=kind, reason=reason))
    deadline = time.monotonic() + wait_s
    while True:
        entry = ports.store.find_ledger_entry_by_command(account_id, command_id)
        if entry is not None or time.monotonic() >= deadline:
            return GrantOutcome(command_id, entry)
        time.sleep(0.2)


@dataclass(frozen=True)
class Credits:
    credits: int
    breakdown: dict[str, Any]  # regular, permanent, resetAt


def get_credits(ports: Ports, account_id: str) -> Credits:
    """The caller's balance from the ledger's projection; zero while the ledger has not opened the account."""
    view = ports.store.find_credit_view(account_id)
    if view is None:
        return Credits(0, {"regular": 0, "permanent": 0, "resetAt": None})
    return Credits(int(view["credits"]), dict(view["breakdown"]))


@dataclass(frozen=True)
class HistoryPage:
    entries: list[dict[str, Any]]  # newest first
    next_before: int | None  # the sequence to continue below; None on the last page


def usage_history(ports: Ports, account_id: str, before: int | None, limit: int) -> HistoryPage:
    """One page of the caller's usage history, strictly older than sequence ``before`` when given."""
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    docs = ports.store.find_ledger_entries(account_id, before, limit + 1)
    page = docs[:limit]
    return HistoryPage(page, int(page[-1]["sequence"]) if len(docs) > limit else None)
