"""The operator CLI (python -m frontdoor.admin) on the real stack: accounts, keys shown once and stored hashed,
grants that say what they did, and the audit of the whole ledger."""
from __future__ import annotations

import json
import re

import pytest
import requests

from adapters import mongo
from frontdoor import admin
from service_config import load

from .conftest import wait_for
from .ledger_helpers import auth, credit_view, wait_audit_clean

pytestmark = pytest.mark.integration


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = admin.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_operators_create_accounts_issue_list_and_revoke_keys(base_url, app_processes, capsys):
    code, out, _ = run_cli(capsys, "create-account", "Acme", "--credits", "10")
    assert code == 0
    fields = dict(line.split("=", 1) for line in out.strip().splitlines())
    account_id, first_key = fields["account_id"], fields["api_key"]
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=auth(first_key), timeout=5).json()
             .get("credits") == 10, 30, "the account's credits")

    code, out, _ = run_cli(capsys, "issue-key", account_id)
    assert code == 0
    second = dict(line.split("=", 1) for line in out.strip().splitlines())
    db = mongo.connect(load())
    stored = list(db.api_keys.find({"accountId": account_id}))
    assert len(stored) == 2 and all(first_key not in str(d) and second["api_key"] not in str(d) for d in stored)

    code, out, _ = run_cli(capsys, "list-keys", account_id)
    assert code == 0 and fields["key_id"] in out and second["key_id"] in out
    assert first_key not in out and second["api_key"] not in out and "2 key(s), 2 active" in out

    code, out, _ = run_cli(capsys, "revoke-key", second["key_id"])
    assert code == 0
    assert requests.get(f"{base_url}/api/v1/credits", headers=auth(second["api_key"]), timeout=5).status_code == 401
    assert requests.get(f"{base_url}/api/v1/credits", headers=auth(first_key), timeout=5).status_code == 200
    code, out, _ = run_cli(capsys, "list-keys", account_id)
    assert "2 key(s), 1 active" in out and "revoked 20" in out
    assert run_cli(capsys, "revoke-key", second["key_id"])[0] == 1
    assert run_cli(capsys, "list-keys", "acct_nobody")[0] == 1


def test_a_grant_says_what_it_did_and_an_idempotency_key_grants_once(base_url, app_processes, capsys):
    issued = admin.create_account_with_key("grantee", 10)
    wait_for(lambda: (credit_view(issued.account_id) or {}).get("credits") == 10, 30, "the account to open")

    code, out, _ = run_cli(capsys, "grant", issued.account_id, "25", "--kind", "permanent", "--reason", "promo",
                           "--idempotency-key", "promo-2026")
    assert code == 0, out
    assert re.search(rf"granted 25 permanent credits to {issued.account_id} \(command grant:promo-2026, "
                     r"ledger event #2, reason 'promo'\)", out), out
    assert "balance now: 35 credits (regular 10, permanent 25, reserved 0)" in out

    code, again, _ = run_cli(capsys, "grant", issued.account_id, "25", "--kind", "permanent", "--reason", "promo",
                             "--idempotency-key", "promo-2026")
    assert code == 0 and "ledger event #2" in again  # the same grant, reported again; nothing new
    wait_audit_clean(issued.account_id)
    assert credit_view(issued.account_id)["credits"] == 35

    code, _, err = run_cli(capsys, "grant", "acct_nobody", "5")
    assert code == 1 and "no such account" in err
    code, _, err = run_cli(capsys, "grant", issued.account_id, "0")
    assert code == 1 and "amount" in err


def test_the_audit_of_one_account_prints_its_balance_and_history(base_url, app_processes, capsys):
    issued = admin.create_account_with_key("audited", 40)
    admin.grant(issued.account_id, 3, "regular", "bonus", wait_s=20)
    wait_audit_clean(issued.account_id)
    code, out, _ = run_cli(capsys, "audit", "--account", issued.account_id)
    assert code == 0, out
    assert re.search(rf"^{issued.account_id}\s+43\s+43\s+0\s+0\s", out, re.M), out
    assert f"history of {issued.account_id}:" in out and "grant" in out and "reason=bonus" in out
    assert out.rstrip().endswith("clean")

    code, out, _ = run_cli(capsys, "audit", "--account", issued.account_id, "--json")
    report = json.loads(out)
    assert code == 0 and report["clean"] is True and report["accounts"][issued.account_id]["credits"] == 43


def test_a_view_that_disagrees_with_the_ledger_fails_the_audit(base_url, app_processes, capsys):
    issued = admin.create_account_with_key("tampered", 40)
    wait_audit_clean(issued.account_id)
    db = mongo.connect(load())
    db.credit_views.update_one({"_id": issued.account_id}, {"$inc": {"credits": 1000}})
    try:
        code, out, _ = run_cli(capsys, "audit", "--account", issued.account_id)
        assert code == 1 and f"MISMATCH view-mismatch: {issued.account_id}: credits: ledger 40, view 1040" in out
    finally:
        db.credit_views.update_one({"_id": issued.account_id}, {"$inc": {"credits": -1000}})

