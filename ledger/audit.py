"""The audit: fold the ledger log from its first record, prove every balance, compare with the views (pure).

The caller reads the ledger topic from offset 0 and feeds each record's payload to `LedgerAudit.add` (partition by
partition, in offset order: an account's events all live in one partition). The audit then knows, per account,
the state the log implies, and finds (as `Finding`s, never exceptions):

- ``undecodable``: a record that is not a ledger event envelope;
- ``conflicting-duplicate``: two different events at one (account, sequence). A redelivered command is decided
  again into the *same* event, so identical duplicates are expected after a crash and skipped; different ones
  mean two owners decided for one account;
- ``gap`` / ``corrupt``: events missing, or an event that cannot follow the account's history (the account's
  fold stops there);
- ``balance-after``: an envelope whose recorded balance differs from the fold at that point (every balance the
  projector ever stored is checked, not only the last one);
- ``negative-balance``: spendable regular or permanent credits below zero;
- ``conservation``: granted - captured - forfeited != regular + permanent + reserved;
- ``view-missing`` / ``view-mismatch`` / ``view-orphan``: the MongoDB credit views disagree with the fold;
- ``history-mismatch``: the materialised usage history lacks entries or has extra ones.

An audit with no findings is clean. Duplicates are counted per account, so an operator sees crash recoveries.
"""
from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .errors import CorruptEventStream, SerializationError
from .events import (
    AccountOpened,
    CreditsGranted,
    CreditsReserved,
    Event,
    MonthlyAllowanceReset,
    ReservationCaptured,
    ReservationReleased,
)
from .history import balance_summary, history_entry
from .serialization import event_from_dict
from .state import AccountState, _AccountDraft  # the same incremental fold replay() uses
from .timestamps import format_millis


@dataclass(frozen=True)
class Finding:
    kind: str
    account_id: str | None
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.account_id or '-'}: {self.detail}"


@dataclass
class AccountAudit:
    """One account's fold and its running totals."""

    account_id: str
    events: int = 0        # distinct events folded
    duplicates: int = 0    # identical re-appends skipped
    granted: int = 0       # opening allowance + grants + reset allowances
    captured: int = 0
    forfeited: int = 0
    reserved: int = 0
    broken: bool = False   # a gap or corrupt event stopped the fold
    history: list[dict[str, Any]] | None = None
    _draft: _AccountDraft | None = None
    _digests: array[int] = field(default_factory=lambda: array("q"))  # hash of each event, by sequence - 1
    _reset_at: datetime | None = None
    _reset_at_text: str = ""

    @property
    def state(self) -> AccountState | None:
        return None if self._draft is None else _freeze_copy(self._draft)

    def expected_view(self) -> dict[str, Any] | None:
        """The credit view the fold implies, shaped as the projector stores it."""
        draft = self._draft
        if draft is None:
            return None
        return {
            "credits": draft.regular + draft.permanent,
            "breakdown": {"regular": draft.regular, "permanent": draft.permanent,
                          "resetAt": format_millis(draft.reset_at)},
            "reserved": self.reserved,
            "sequence": draft.sequence,
        }


def _freeze_copy(draft: _AccountDraft) -> AccountState:
    return _AccountDraft.thaw(draft.freeze()).freeze()  # freeze() hands its dicts over; copy them first


class LedgerAudit:
    def __init__(self, *, account_id: str | None = None, history: bool | Callable[[str], bool] = False) -> None:
        """`account_id`: audit one account only; `history`: keep entries (for all accounts, or those it accepts)."""
        self.only_account = account_id
        self._keep_history = history if callable(history) else (lambda _account, keep=history: keep)
        self.accounts: dict[str, AccountAudit] = {}
        self.findings: list[Finding] = []
        self.records = 0
        self._finished = False

    # --- folding ---------------------------------------------------------------------------------------------------

    def add(self, payload: Mapping[str, Any], where: str = "") -> None:
        """Fold one ledger record's payload: {"accountId", "ledgerEvent", "balanceAfter"}."""
        self.records += 1
        account_id = payload.get("accountId") if isinstance(payload, Mapping) else None
        if self.only_account is not None and account_id != self.only_account:
            return
        try:
            event = event_from_dict(payload["ledgerEvent"])
        except (SerializationError, KeyError, TypeError) as exc:
            self._find("undecodable", account_id if isinstance(account_id, str) else None, f"{where} {exc}")
            return
        if event.account_id != account_id:
            self._find("undecodable", event.account_id, f"{where} envelope names account {account_id!r}")
            return
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = AccountAudit(account_id)
            if self._keep_history(account_id):
                account.history = []
        if account.broken:
            return
        digest = hash(event)
        folded = len(account._digests)
        if event.sequence <= folded:
            account.duplicates += 1
            if account._digests[event.sequence - 1] != digest:
                self._find("conflicting-duplicate", account_id,
                           f"{where} event #{event.sequence} ({type(event).__name__} {event.event_id}) differs "
                           f"from the one already folded at that sequence")
            return
        if event.sequence != folded + 1:
            account.broken = True
            self._find("gap", account_id, f"{where} event #{event.sequence} follows #{folded}")
            return
        try:
            if account._draft is None:
                account._draft = _AccountDraft.opened_by(event)
            else:
                account._draft.apply(event)
        except CorruptEventStream as exc:
            account.broken = True
            self._find("corrupt", account_id, f"{where} {exc}")
            return
        account._digests.append(digest)
        account.events += 1
        self._count(account, event)
        self._check_balance_after(account, payload.get("balanceAfter"), where)
        if account.history is not None:
            entry = history_entry(event)
            balance = payload.get("balanceAfter")
            entry["balanceAfter"] = balance_summary(balance) if isinstance(balance, Mapping) else None
            account.history.append(entry)

    def add_all(self, payloads: Iterable[Mapping[str, Any]]) -> LedgerAudit:
        for payload in payloads:
            self.add(payload)
        return self

    @staticmethod
    def _count(account: AccountAudit, event: Event) -> None:
        if isinstance(event, CreditsReserved):
            account.reserved += event.amount
        elif isinstance(event, ReservationCaptured):
            account.captured += event.captured
            account.forfeited += event.forfeited_regular
            account.reserved -= (event.captured + event.released_regular + event.released_permanent
                                 + event.forfeited_regular)
        elif isinstance(event, ReservationReleased):
            account.forfeited += event.forfeited_regular
            account.reserved -= event.released_regular + event.released_permanent + event.forfeited_regular
        elif isinstance(event, CreditsGranted):
            account.granted += event.amount
        elif isinstance(event, MonthlyAllowanceReset):
            account.granted += event.regular_granted
            account.forfeited += event.forfeited_regular
        elif isinstance(event, AccountOpened):
            account.granted += event.regular_granted

    def _check_balance_after(self, account: AccountAudit, balance: Any, where: str) -> None:
        draft = account._draft
        assert draft is not None
        if draft.regular < 0 or draft.permanent < 0:
            self._find("negative-balance", account.account_id,
                       f"{where} after #{draft.sequence}: regular {draft.regular}, permanent {draft.permanent}")
        if draft.reset_at is not account._reset_at:
            account._reset_at, account._reset_at_text = draft.reset_at, format_millis(draft.reset_at)
        expected = (draft.regular + draft.permanent, draft.regular, draft.permanent, account._reset_at_text,
                    account.reserved, draft.sequence)
        try:
            recorded = (balance["credits"], balance["breakdown"]["regular"], balance["breakdown"]["permanent"],
                        balance["breakdown"]["resetAt"], balance["reserved"], balance["sequence"])
        except (KeyError, TypeError):
            recorded = None
        if recorded != expected:
            self._find("balance-after", account.account_id,
                       f"{where} after #{draft.sequence} the envelope records {recorded}, the fold gives {expected} "
                       "(credits, regular, permanent, resetAt, reserved, sequence)")

    # --- conclusions -----------------------------------------------------------------------------------------------

    def finish(self) -> LedgerAudit:
        """Check what only the whole log can tell (conservation). Idempotent."""
        if self._finished:
            return self
        self._finished = True
        for account in self.accounts.values():
            draft = account._draft
            if draft is None or account.broken:
                continue
            left = draft.regular + draft.permanent + account.reserved
            if account.granted - account.captured - account.forfeited != left:
                self._find("conservation", account.account_id,
                           f"granted {account.granted} - captured {account.captured} - forfeited "
                           f"{account.forfeited} != regular {draft.regular} + permanent {draft.permanent} + "
                           f"reserved {account.reserved}")
        return self

    def compare_views(self, views: Iterable[Mapping[str, Any]]) -> list[Finding]:
        """Compare the credit views (documents keyed by account id in ``_id``) with the fold."""
        found: list[Finding] = []
        by_account = {view.get("_id"): view for view in views}
        for account_id, account in sorted(self.accounts.items()):
            expected = account.expected_view()
            if expected is None or account.broken:
                continue
            view = by_account.get(account_id)
            if view is None:
                found.append(self._find("view-missing", account_id, f"no credit view; the ledger says {expected}"))
                continue
            differences = [
                f"{name}: ledger {want!r}, view {have!r}"
                for name, want, have in (
                    ("credits", expected["credits"], view.get("credits")),
                    ("regular", expected["breakdown"]["regular"], (view.get("breakdown") or {}).get("regular")),
                    ("permanent", expected["breakdown"]["permanent"], (view.get("breakdown") or {}).get("permanent")),
                    ("resetAt", expected["breakdown"]["resetAt"], (view.get("breakdown") or {}).get("resetAt")),
                    ("reserved", expected["reserved"], view.get("reserved")),
                    ("sequence", expected["sequence"], view.get("sequence")),
                )
                if want != have
            ]
            if differences:
                found.append(self._find("view-mismatch", account_id, "; ".join(differences)))
        for orphan_id in sorted(set(by_account) - set(self.accounts), key=str):
            if self.only_account is None or orphan_id == self.only_account:
                found.append(self._find("view-orphan", orphan_id, "a credit view without ledger events"))
        return found

    def compare_history_counts(self, counts: Mapping[str, int]) -> list[Finding]:
        """Compare the number of materialised history entries per account with the distinct events folded."""
        found = []
        for account_id, account in sorted(self.accounts.items()):
            if account.broken:
                continue
            have = counts.get(account_id, 0)
            if have != account.events:
                found.append(self._find("history-mismatch", account_id,
                                        f"{have} history entries for {account.events} ledger events"))
        return found

    @property
    def clean(self) -> bool:
        return not self.findings

    def states(self) -> dict[str, AccountState]:
        return {a: acc.state for a, acc in self.accounts.items() if acc._draft is not None}  # type: ignore[misc]

    def _find(self, kind: str, account_id: str | None, detail: str) -> Finding:
        finding = Finding(kind, account_id, detail.strip())
        self.findings.append(finding)
        return finding


def format_report(audit: LedgerAudit) -> list[str]:
    """Human-readable lines: one per account, then each history kept, then the findings and the verdict."""
    lines = [f"{'account':<24} {'credits':>10} {'regular':>10} {'permanent':>10} {'reserved':>9} "
             f"{'resetAt':<24} {'events':>7} {'dups':>5}"]
    for account_id, account in sorted(audit.accounts.items()):
        view = account.expected_view()
        if view is None:
            lines.append(f"{account_id:<24} (no opening event)")
            continue
        lines.append(f"{account_id:<24} {view['credits']:>10} {view['breakdown']['regular']:>10} "
                     f"{view['breakdown']['permanent']:>10} {view['reserved']:>9} {view['breakdown']['resetAt']:<24} "
                     f"{account.events:>7} {account.duplicates:>5}{'  BROKEN' if account.broken else ''}")
    for account_id, account in sorted(audit.accounts.items()):
        if not account.history:
            continue
        lines.append("")
        lines.append(f"history of {account_id}:")
        for entry in account.history:
            balance = entry.get("balanceAfter") or {}
            extra = " ".join(f"{k}={entry[k]}" for k in ("jobId", "creditKind", "reason") if entry.get(k))
            if entry.get("forfeited"):
                extra += f" forfeited={entry['forfeited']}"
            lines.append(f"  #{entry['sequence']:<6} {format_millis(entry['at'])} {entry['type']:<11} "
                         f"{entry['amount']:>8}  -> credits={balance.get('credits')} "
                         f"reserved={balance.get('reserved')}  {extra}".rstrip())
    lines.append("")
    for finding in audit.findings:
        lines.append(f"MISMATCH {finding}")
    verdict = "clean" if audit.clean else f"{len(audit.findings)} finding(s)"
    lines.append(f"audit: {audit.records} ledger records, {len(audit.accounts)} account(s): {verdict}")
    return lines
