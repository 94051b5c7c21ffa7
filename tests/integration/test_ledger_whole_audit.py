"""Runs after the other ledger tests (and the test files before them): every account the session touched, replayed
from offset 0 of the ledger topic, agrees with its recorded balances, its credit view and its usage history."""
from __future__ import annotations

import pytest

from frontdoor import admin

from .ledger_helpers import wait_audit_clean

pytestmark = pytest.mark.integration


def test_the_whole_ledger_of_the_session_audits_clean(base_url, app_processes, capsys):
    audit = wait_audit_clean(None, timeout_s=60)
    assert audit.accounts and not any(a.broken for a in audit.accounts.values())
    assert admin.main(["audit"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("clean") and f"{len(audit.accounts)} account(s)" in out
