"""Operator CLI: accounts, API keys and credit grants; `seed-demo` makes the demo account `make run` prints.

    python -m frontdoor.admin seed-demo
    python -m frontdoor.admin create-account NAME [--credits N]
    python -m frontdoor.admin issue-key ACCOUNT_ID
    python -m frontdoor.admin list-keys ACCOUNT_ID
    python -m frontdoor.admin revoke-key KEY_ID
    python -m frontdoor.admin grant ACCOUNT_ID AMOUNT [--kind permanent|regular] [--reason TEXT]
                                   [--idempotency-key KEY] [--wait SECONDS]
    python -m frontdoor.admin audit [--account ACCOUNT_ID] [--history] [--json]

Credits move only through the ledger: grants are published as ledger commands and decided by the ledger agent.
`audit` folds the ledger topic from offset 0, prints every account's balance (and history), checks every balance
the ledger recorded, and compares the result with the MongoDB credit views; it exits 1 on any mismatch.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import ledger
from adapters import kafka, mongo
from ledger.audit import LedgerAudit, format_report
from ledger.billing_period import add_months
from schemas import events as ev, ids, voices
from service_config import Settings, load

from .auth import generate_key, hash_key

DEMO_ACCOUNT_ID = "acct_demo"


@dataclass(frozen=True)
class IssuedAccount:
    account_id: str
    key_id: str
    api_key: str


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _first_of_next_month(now: datetime) -> datetime:
    return add_months(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0), 1)


def _publish_ledger_command(settings: Settings, command) -> None:
    publisher = kafka.EventPublisher(settings)
    try:
        event = ev.Event(ev.LEDGER_COMMAND, {"accountId": command.account_id,
                                             "command": ledger.to_dict(command)})
        publisher.publish(ev.TOPIC_REQUESTS, command.account_id, event)
    finally:
        publisher.close()


def prepare(settings: Settings):
    """Topics, indexes and the public system voices: everything an empty deployment needs."""
    kafka.ensure_topics(settings)
    db = mongo.connect(settings)
    mongo.ensure_indexes(db)
    for voice in voices.system_voice_documents():
        mongo.upsert_system_voice(db, voice)
    return db


def issue_key(db, account_id: str, key: str | None = None, name: str | None = None) -> tuple[str, str]:
    """Store a new key's hash; returns (key id, the key itself — shown once, never stored)."""
    key = key or generate_key()
    key_id = ids.new_id("key_", 16)
    mongo.insert_api_key(db, key_id, account_id, hash_key(key), key[:8], _now(), name)
    return key_id, key


def open_account(settings: Settings, db, account_id: str, name: str, monthly_credits: int,
                 first_reset_at: datetime | None = None) -> None:
    """Record the account and open it in the ledger; its allowance resets monthly from ``first_reset_at``
    (default: the first of next month, 00:00 UTC)."""
    now = _now()
    mongo.upsert_account(db, account_id, name, now)
    _publish_ledger_command(settings, ledger.OpenAccount(
        command_id=f"open:{account_id}", account_id=account_id, at=now, monthly_allowance=monthly_credits,
        reset_at=first_reset_at or _first_of_next_month(now)))


def create_account_with_key(name: str, credits: int, settings: Settings | None = None,
                            first_reset_at: datetime | None = None) -> IssuedAccount:
    settings = settings or load()
    db = prepare(settings)
    account_id = ids.new_id("acct_", 16)
    open_account(settings, db, account_id, name, credits, first_reset_at)
    key_id, key = issue_key(db, account_id)
    return IssuedAccount(account_id, key_id, key)


def seed_demo(credits: int | None = None, key_file: Path | None = None,
              settings: Settings | None = None) -> IssuedAccount:
    """Idempotent: the demo account is opened once; its key is reused from ``key_file`` when still valid."""
    settings = settings or load()
    db = prepare(settings)
    open_account(settings, db, DEMO_ACCOUNT_ID, "Demo account",
                 settings.demo_credits if credits is None else credits)
    key = os.environ.get("DEMO_API_KEY") or (key_file.read_text().strip() if key_file and key_file.exists() else None)
    if key:
        record = mongo.find_active_key(db, hash_key(key))
        if record is not None and record["accountId"] == DEMO_ACCOUNT_ID:
            return IssuedAccount(DEMO_ACCOUNT_ID, record["_id"], key)
    key_id, key = issue_key(db, DEMO_ACCOUNT_ID, key)
    if key_file is not None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    return IssuedAccount(DEMO_ACCOUNT_ID, key_id, key)


class AdminError(Exception):
    """An operator command that cannot be carried out (unknown account, bad amount)."""


@dataclass(frozen=True)
class GrantOutcome:
    command_id: str
    entry: dict | None  # the grant's usage-history entry once the ledger decided it; None if not seen in time


def grant(account_id: str, amount: int, kind: str, reason: str, settings: Settings | None = None, *,
          idempotency_key: str | None = None, wait_s: float = 0.0) -> GrantOutcome:
    """Publish a grant to the ledger; with ``wait_s``, wait that long for its decision to show in the history.

    The same ``idempotency_key`` grants once however often it is sent (the ledger knows its command id)."""
    settings = settings or load()
    if type(amount) is not int or amount < 1:
        raise AdminError(f"amount must be a whole number of credits >= 1, got {amount!r}")
    if kind not in ("regular", "permanent"):
        raise AdminError(f"kind must be regular or permanent, got {kind!r}")
    db = mongo.connect(settings)
    if mongo.find_account(db, account_id) is None:
        raise AdminError(f"no such account: {account_id}")
    command_id = f"grant:{idempotency_key}" if idempotency_key else ids.new_id("grant_")
    _publish_ledger_command(settings, ledger.GrantCredits(
        command_id=command_id, account_id=account_id, at=_now(), amount=amount, kind=kind, reason=reason))
    deadline = time.monotonic() + wait_s
    while True:
        entry = db.ledger_entries.find_one({"accountId": account_id, "commandId": command_id})
        if entry is not None or time.monotonic() >= deadline:
            return GrantOutcome(command_id, entry)
        time.sleep(0.2)


def run_audit(settings: Settings | None = None, account_id: str | None = None,
              history: bool = False) -> LedgerAudit:
    """Fold the ledger topic from offset 0 and compare it with the credit views and the usage history."""
    settings = settings or load()
    audit = LedgerAudit(account_id=account_id, history=history)
    wanted_key = account_id.encode() if account_id is not None else None
    for partition, offset, key, value in kafka.read_topic(settings, ev.TOPIC_LEDGER):
        if wanted_key is not None and key != wanted_key:
            continue
        where = f"[{partition}:{offset}]"
        try:
            payload = ev.decode(value).payload
        except ev.EventDecodeError as exc:
            payload = {"accountId": (key or b"").decode("utf-8", "replace"), "ledgerEvent": None,
                       "error": str(exc)}
        audit.add(payload, where)
    audit.finish()
    db = mongo.connect(settings)
    audit.compare_views(mongo.credit_views(db, account_id))
    audit.compare_history_counts(mongo.ledger_entry_counts(db, account_id))
    return audit


def audit_json(audit: LedgerAudit) -> dict:
    return {
        "clean": audit.clean,
        "records": audit.records,
        "findings": [{"kind": f.kind, "accountId": f.account_id, "detail": f.detail} for f in audit.findings],
        "accounts": {a: {**(acc.expected_view() or {}), "events": acc.events, "duplicates": acc.duplicates}
                     for a, acc in sorted(audit.accounts.items())},
    }


def revoke_key(key_id: str, settings: Settings | None = None) -> bool:
    db = mongo.connect(settings or load())
    return db.api_keys.update_one({"_id": key_id, "revokedAt": None}, {"$set": {"revokedAt": _now()}}).modified_count == 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m frontdoor.admin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("seed-demo", help="create the demo account, its API key and credits; print them")
    p = sub.add_parser("create-account", help="create an account with an API key (shown once)")
    p.add_argument("name")
    p.add_argument("--credits", type=int, default=0, help="monthly allowance of regular credits")
    p = sub.add_parser("issue-key", help="issue another API key for an account (shown once)")
    p.add_argument("account_id")
    p = sub.add_parser("list-keys", help="list an account's API keys (ids and prefixes; never the keys)")
    p.add_argument("account_id")
    p = sub.add_parser("revoke-key", help="revoke an API key by its id")
    p.add_argument("key_id")
    p = sub.add_parser("grant", help="grant credits through the ledger and show the new balance")
    p.add_argument("account_id")
    p.add_argument("amount", type=int)
    p.add_argument("--kind", choices=["permanent", "regular"], default="permanent")
    p.add_argument("--reason", default="operator grant")
    p.add_argument("--idempotency-key", help="send the same grant again safely: one key grants once")
    p.add_argument("--wait", type=float, default=15.0, metavar="SECONDS",
                   help="how long to wait for the ledger's decision (default 15; 0: do not wait)")
    p = sub.add_parser("audit", help="replay the ledger topic from offset 0 and compare with the credit views")
    p.add_argument("--account", help="audit one account (and print its history)")
    p.add_argument("--history", action="store_true", help="print every audited account's history")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    settings = load()

    if args.cmd == "seed-demo":
        issued = seed_demo(key_file=settings.stack_dir / "demo-api-key", settings=settings)
        print(f"API:          http://127.0.0.1:{settings.frontdoor_port}/api/v1")
        print(f"OpenAPI:      http://127.0.0.1:{settings.frontdoor_port}/api/openapi.json")
        print(f"Demo account: {issued.account_id}")
        print(f"Demo API key: {issued.api_key}")
        print(f'Try:          curl -H "Authorization: Bearer {issued.api_key}" '
              f"http://127.0.0.1:{settings.frontdoor_port}/api/v1/credits")
    elif args.cmd == "create-account":
        issued = create_account_with_key(args.name, args.credits, settings)
        print(f"account_id={issued.account_id}\nkey_id={issued.key_id}\napi_key={issued.api_key}")
    elif args.cmd == "issue-key":
        db = mongo.connect(settings)
        if db.accounts.find_one({"_id": args.account_id}) is None:
            print(f"no such account: {args.account_id}", file=sys.stderr)
            return 1
        key_id, key = issue_key(db, args.account_id)
        print(f"key_id={key_id}\napi_key={key}")
    elif args.cmd == "revoke-key":
        if not revoke_key(args.key_id, settings):
            print(f"no active key with id {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    elif args.cmd == "list-keys":
        db = mongo.connect(settings)
        if mongo.find_account(db, args.account_id) is None:
            print(f"no such account: {args.account_id}", file=sys.stderr)
            return 1
        keys = mongo.list_api_keys(db, args.account_id)
        print(f"{'key_id':<22} {'prefix':<10} {'created':<25} {'status':<33} name")
        for doc in keys:
            status = f"revoked {ev.iso_millis(doc['revokedAt'])}" if doc.get("revokedAt") else "active"
            print(f"{doc['_id']:<22} {doc.get('prefix') or '':<10} {ev.iso_millis(doc['createdAt']):<25} "
                  f"{status:<33} {doc.get('name') or ''}".rstrip())
        print(f"{len(keys)} key(s), {sum(1 for d in keys if not d.get('revokedAt'))} active")
    elif args.cmd == "grant":
        try:
            outcome = grant(args.account_id, args.amount, args.kind, args.reason, settings,
                            idempotency_key=args.idempotency_key, wait_s=args.wait)
        except (AdminError, kafka.BusUnavailable) as exc:
            print(str(exc), file=sys.stderr)
            return 1
        if outcome.entry is None:
            print(f"grant of {args.amount} {args.kind} credits to {args.account_id} published as command "
                  f"{outcome.command_id}; not decided within {args.wait:g}s (is a worker running?). It stays "
                  "queued and will be applied once; do not send it again without --idempotency-key.")
            return 2
        balance = outcome.entry["balanceAfter"]
        print(f"granted {outcome.entry['amount']} {outcome.entry['creditKind']} credits to {args.account_id} "
              f"(command {outcome.command_id}, ledger event #{outcome.entry['sequence']}, "
              f"reason {outcome.entry['reason']!r})")
        print(f"balance now: {balance['credits']} credits (regular {balance['regular']}, permanent "
              f"{balance['permanent']}, reserved {balance['reserved']})")
    elif args.cmd == "audit":
        audit = run_audit(settings, args.account, history=args.history or args.account is not None)
        if args.json:
            print(json.dumps(audit_json(audit), indent=2, default=str))
        else:
            print("\n".join(format_report(audit)))
        return 0 if audit.clean else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
