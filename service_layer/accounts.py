"""Accounts (operator use cases): open an account in the ledger, create one with its first API key."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import ledger

from . import keys
from .credits import first_of_next_month, publish_ledger_command
from .ports import Ports


def open_account(ports: Ports, account_id: str, name: str, monthly_credits: int,
                 first_reset_at: datetime | None = None) -> None:
    """Record the account and open it in the ledger (idempotent: the command id is the account's); its
    allowance resets monthly from ``first_reset_at`` (default: the first of next month, 00:00 UTC)."""
    now = ports.clock()
    ports.store.upsert_account(account_id, name, now)
    publish_ledger_command(ports, ledger.OpenAccount(
        command_id=f"open:{account_id}", account_id=account_id, at=now, monthly_allowance=monthly_credits,
        reset_at=first_reset_at or first_of_next_month(now)))


@dataclass(frozen=True)
class NewAccount:
    account_id: str
    key: keys.IssuedKey


def create_account(ports: Ports, name: str, monthly_credits: int,
                   first_reset_at: datetime | None = None) -> NewAccount:
    """A new account, opened in the ledger with ``monthly_credits``, and its first API key (shown once)."""
    account_id = ports.new_id("acct_", 16)
    open_account(ports, account_id, name, monthly_credits, first_reset_at)
    return NewAccount(account_id, keys.issue_key(ports, account_id))
