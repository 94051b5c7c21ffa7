"""The audit's fold and comparisons (ledger/audit.py), fed with envelopes exactly as the ledger agent writes them."""
from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hypothesis import given

from ledger import (
    Capture,
    DomainError,
    ExpireReservations,
    GrantCredits,
    OpenAccount,
    Release,
    Reserve,
    ResetMonthly,
    apply_command,
    to_view,
)
from ledger.audit import LedgerAudit, format_report
from ledger.history import entry_document
from streams.ledger_logic import ledger_records
from tests.unit.test_ledger_properties import SETTINGS, command_sequences

AT = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


def payloads_of(commands) -> tuple[list[dict], dict]:
    """The ledger topic's payloads for `commands` and the final states, as the agent produces them."""
    states: dict = {}
    payloads: list[dict] = []
    for command in commands:
        state = states.get(command.account_id)
        try:
            events, after = apply_command(state, command)
        except DomainError:
            continue
        payloads.extend(copy.deepcopy(r.envelope().payload) for r in ledger_records(state, events))
        if after is not None:
            states[command.account_id] = after
    return payloads, states


def view_of(state) -> dict:
    return {"_id": state.account_id, **to_view(state), "reserved": state.reserved_total, "sequence": state.sequence}


def a_day_of_traffic():
    t = AT
    commands = [OpenAccount(command_id="open:a", account_id="a", at=t, monthly_allowance=100,
                            reset_at=AT + timedelta(days=2)),
                OpenAccount(command_id="open:b", account_id="b", at=t, monthly_allowance=10,
                            reset_at=AT + timedelta(days=9)),
                GrantCredits(command_id="g1", account_id="a", at=t, amount=50, kind="permanent", reason="purchase")]
    for n in range(6):
        t += timedelta(minutes=1)
        commands.append(Reserve(command_id=f"r{n}", account_id="a", at=t, job_id=f"j{n}", amount=30,
                                expires_at=t + timedelta(minutes=15)))
    commands += [Capture(command_id="c0", account_id="a", at=t, job_id="j0", amount=30),
                 Capture(command_id="c1", account_id="a", at=t, job_id="j1", amount=20),
                 Release(command_id="x2", account_id="a", at=t, job_id="j2", reason="failed"),
                 ExpireReservations(command_id="e1", account_id="a", at=t + timedelta(hours=1)),
                 ResetMonthly(command_id="m1", account_id="a", at=AT + timedelta(days=3)),
                 Reserve(command_id="rb", account_id="b", at=t, job_id="jb", amount=11,
                         expires_at=t + timedelta(hours=1))]
    return commands


def test_a_clean_log_matches_its_views_and_proves_every_recorded_balance():
    payloads, states = payloads_of(a_day_of_traffic())
    audit = LedgerAudit(history=True).add_all(payloads).finish()
    audit.compare_views([view_of(s) for s in states.values()])
    audit.compare_history_counts({a: s.sequence for a, s in states.items()})
    assert audit.clean, audit.findings
    assert audit.states() == states
    types = [e["type"] for e in audit.accounts["a"].history]
    assert types[:3] == ["grant", "grant", "reservation"] and "capture" in types and "release" in types
    assert types[-1] == "reset" and audit.accounts["b"].history[-1]["type"] == "refusal"
    report = "\n".join(format_report(audit))
    assert "audit: " in report and report.rstrip().endswith("clean")


@SETTINGS
@given(command_sequences())
def test_any_log_audits_clean_against_its_own_views_even_with_redelivered_events(commands):
    payloads, states = payloads_of(commands)
    audit = LedgerAudit().add_all(payloads + payloads[len(payloads) // 2:]).finish()
    audit.compare_views([view_of(s) for s in states.values()])
    assert audit.clean, audit.findings
    assert audit.states() == states
    assert sum(a.duplicates for a in audit.accounts.values()) == len(payloads) - len(payloads) // 2


def test_identical_duplicates_are_skipped_and_conflicting_ones_found():
    payloads, _ = payloads_of(a_day_of_traffic())
    audit = LedgerAudit().add_all(payloads[:5] + payloads[3:5] + payloads[5:]).finish()
    assert audit.clean and audit.accounts["a"].duplicates == 2

    forged = copy.deepcopy(payloads[4])
    forged["ledgerEvent"]["job_id"] = "someone-else"
    audit = LedgerAudit().add_all(payloads[:5] + [forged] + payloads[5:]).finish()
    assert [f.kind for f in audit.findings] == ["conflicting-duplicate"]


def test_a_missing_event_stops_the_account_and_is_reported():
    payloads, _ = payloads_of(a_day_of_traffic())
    a_events = [i for i, p in enumerate(payloads) if p["accountId"] == "a"]
    del payloads[a_events[3]]
    audit = LedgerAudit().add_all(payloads).finish()
    assert [f.kind for f in audit.findings] == ["gap"]
    assert audit.accounts["a"].broken and not audit.accounts["b"].broken


def test_a_recorded_balance_that_the_fold_does_not_give_is_reported():
    payloads, _ = payloads_of(a_day_of_traffic())
    payloads[4]["balanceAfter"]["credits"] += 1
    audit = LedgerAudit().add_all(payloads).finish()
    assert [f.kind for f in audit.findings] == ["balance-after"]


def test_views_that_disagree_are_missing_or_orphaned_are_reported():
    payloads, states = payloads_of(a_day_of_traffic())
    views = [view_of(states["a"]), {"_id": "ghost", "credits": 5}]
    views[0]["breakdown"] = {**views[0]["breakdown"], "permanent": 999}
    audit = LedgerAudit().add_all(payloads).finish()
    found = audit.compare_views(views)
    assert sorted(f.kind for f in found) == ["view-mismatch", "view-missing", "view-orphan"]
    assert "permanent: ledger" in next(f.detail for f in found if f.kind == "view-mismatch")
    assert audit.compare_history_counts({"a": 1}) and not audit.clean


def test_one_account_can_be_audited_alone():
    payloads, states = payloads_of(a_day_of_traffic())
    audit = LedgerAudit(account_id="b").add_all(payloads).finish()
    audit.compare_views([view_of(s) for s in states.values()])
    assert audit.clean and set(audit.accounts) == {"b"}


def test_undecodable_records_are_findings_not_crashes():
    audit = LedgerAudit().add_all([{"accountId": "a", "ledgerEvent": {"type": "Nope"}}, {"nothing": 1}]).finish()
    assert [f.kind for f in audit.findings] == ["undecodable", "undecodable"]


def test_history_documents_carry_the_entry_and_the_balance_after():
    payloads, _ = payloads_of(a_day_of_traffic())
    docs = [entry_document(p) for p in payloads if p["accountId"] == "a"]
    capture = next(d for d in docs if d["type"] == "capture" and d["jobId"] == "j1")
    assert capture["amount"] == 20 and capture["balanceAfter"]["reserved"] >= 0
    assert set(capture) >= {"_id", "accountId", "sequence", "commandId", "at", "type", "amount", "jobId",
                            "balanceAfter"}
    expired = [d for d in docs if d["type"] == "release" and d["reason"] == "expired"]
    assert sorted(d["jobId"] for d in expired) == ["j3", "j4"]
    assert [d["sequence"] for d in docs] == list(range(1, len(docs) + 1))
