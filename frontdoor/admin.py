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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from adapters import kafka, mongo, wiring
from adapters.mongo import Database
from ledger.audit import LedgerAudit, format_report
from schemas import events as ev
from schemas import voices
from service_config import Settings, load
from service_layer import accounts, keys
from service_layer import credits as credit_service
from service_layer.credits import GrantOutcome  # noqa: F401 (re-exported: grant's result)
from service_layer.errors import DomainError

DEMO_ACCOUNT_ID = "acct_demo"


@dataclass(frozen=True)
class IssuedAccount:
    account_id: str
    key_id: str
    api_key: str


def prepare(settings: Settings) -> Database:
    """Topics, indexes and the public system voices: everything an empty deployment needs."""
    kafka.ensure_topics(settings)
    db = mongo.connect(settings)
    mongo.ensure_indexes(db)
    for voice in voices.system_voice_documents():
        mongo.upsert_system_voice(db, voice)
    return db


def issue_key(db: Database, account_id: str, key: str | None = None, name: str | None = None) -> tuple[str, str]:
    """Store a new key's hash; returns (key id, the key itself — shown once, never stored)."""
    with wiring.operator_ports(load(), db) as ports:
        issued = keys.issue_key(ports, account_id, secret=key, name=name)
    return issued.key_id, issued.secret


def open_account(settings: Settings, db: Database, account_id: str, name: str, monthly_credits: int,
                 first_reset_at: datetime | None = None) -> None:
    """Record the account and open it in the ledger (see ``service_layer.accounts.open_account``)."""
    with wiring.operator_ports(settings, db) as ports:
        accounts.open_account(ports, account_id, name, monthly_credits, first_reset_at)


def create_account_with_key(name: str, credits: int, settings: Settings | None = None,
                            first_reset_at: datetime | None = None) -> IssuedAccount:
    settings = settings or load()
    with wiring.operator_ports(settings, prepare(settings)) as ports:
        created = accounts.create_account(ports, name, credits, first_reset_at)
    return IssuedAccount(created.account_id, created.key.key_id, created.key.secret)


def seed_demo(credits: int | None = None, key_file: Path | None = None,
              settings: Settings | None = None) -> IssuedAccount:
    """Idempotent: the demo account is opened once; its key is reused from ``key_file`` when still valid."""
    settings = settings or load()
    with wiring.operator_ports(settings, prepare(settings)) as ports:
        accounts.open_account(ports, DEMO_ACCOUNT_ID, "Demo account",
                              settings.demo_credits if credits is None else credits)
        key = os.environ.get("DEMO_API_KEY") or (
            key_file.read_text().strip() if key_file and key_file.exists() else None)
        if key:
            record = keys.active_key(ports, key)
            if record is not None and record["accountId"] == DEMO_ACCOUNT_ID:
                return IssuedAccount(DEMO_ACCOUNT_ID, record["_id"], key)
        issued = keys.issue_key(ports, DEMO_ACCOUNT_ID, secret=key)
    if key_file is not None:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(issued.secret + "\n")
        key_file.chmod(0o600)
    return IssuedAccount(DEMO_ACCOUNT_ID, issued.key_id, issued.secret)


def grant(account_id: str, amount: int, kind: str, reason: str, settings: Settings | None = None, *,
          idempotency_key: str | None = None, wait_s: float = 0.0) -> GrantOutcome:
    """Publish a grant to the ledger and wait up to ``wait_s`` for its decision (``service_layer.credits.grant``;
    raises its DomainErrors)."""
    with wiring.operator_ports(settings or load()) as ports:
        return credit_service.grant(ports, account_id, amount, kind, reason, idempotency_key=idempotency_key,
                                    wait_s=wait_s)


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
    with wiring.operator_ports(settings or load()) as ports:
        try:
            keys.revoke_key(ports, key_id)
        except DomainError:
            return False
    return True


# --- the command line: one function per subcommand -------------------------------------------------------------------

def _seed_demo(args: argparse.Namespace, settings: Settings) -> int:
    issued = seed_demo(key_file=settings.stack_dir / "demo-api-key", settings=settings)
    print(f"API:          http://127.0.0.1:{settings.frontdoor_port}/api/v1")
    print(f"OpenAPI:      http://127.0.0.1:{settings.frontdoor_port}/api/openapi.json")
    print(f"Demo account: {issued.account_id}")
    print(f"Demo API key: {issued.api_key}")
    print(f'Try:          curl -H "Authorization: Bearer {issued.api_key}" '
          f"http://127.0.0.1:{settings.frontdoor_port}/api/v1/credits")
    return 0


def _create_account(args: argparse.Namespace, settings: Settings) -> int:
    issued = create_account_with_key(args.name, args.credits, settings)
    print(f"account_id={issued.account_id}\nkey_id={issued.key_id}\napi_key={issued.api_key}")
    return 0


def _issue_key(args: argparse.Namespace, settings: Settings) -> int:
    with wiring.operator_ports(settings) as ports:
        keys.require_account(ports, args.account_id)
        issued = keys.issue_key(ports, args.account_id)
    print(f"key_id={issued.key_id}\napi_key={issued.secret}")
    return 0


def _revoke_key(args: argparse.Namespace, settings: Settings) -> int:
    if not revoke_key(args.key_id, settings):
        print(f"no active key with id {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def _list_keys(args: argparse.Namespace, settings: Settings) -> int:
    with wiring.operator_ports(settings) as ports:
        keys.require_account(ports, args.account_id)
        found = keys.list_keys(ports, args.account_id)
    print(f"{'key_id':<22} {'prefix':<10} {'created':<25} {'status':<33} name")
    for doc in found:
        status = f"revoked {ev.iso_millis(doc['revokedAt'])}" if doc.get("revokedAt") else "active"
        print(f"{doc['_id']:<22} {doc.get('prefix') or '':<10} {ev.iso_millis(doc['createdAt']):<25} "
              f"{status:<33} {doc.get('name') or ''}".rstrip())
    print(f"{len(found)} key(s), {sum(1 for d in found if not d.get('revokedAt'))} active")
    return 0


def _grant(args: argparse.Namespace, settings: Settings) -> int:
    outcome = grant(args.account_id, args.amount, args.kind, args.reason, settings,
                    idempotency_key=args.idempotency_key, wait_s=args.wait)
    if outcome.entry is None:
        print(f"grant of {args.amount} {args.kind} credits to {args.account_id} published as command "
              f"{outcome.command_id}; not decided within {args.wait:g}s (is a worker running?). It stays "
              "queued and will be applied once; do not send it again without --idempotency-key.")
        return 2
    entry, balance = outcome.entry, outcome.entry["balanceAfter"]
    print(f"granted {entry['amount']} {entry['creditKind']} credits to {args.account_id} "
          f"(command {outcome.command_id}, ledger event #{entry['sequence']}, reason {entry['reason']!r})")
    print(f"balance now: {balance['credits']} credits (regular {balance['regular']}, permanent "
          f"{balance['permanent']}, reserved {balance['reserved']})")
    return 0


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    audit = run_audit(settings, args.account, history=args.history or args.account is not None)
    if args.json:
        print(json.dumps(audit_json(audit), indent=2, default=str))
    else:
        print("\n".join(format_report(audit)))
    return 0 if audit.clean else 1


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "seed-demo": _seed_demo, "create-account": _create_account, "issue-key": _issue_key,
    "revoke-key": _revoke_key, "list-keys": _list_keys, "grant": _grant, "audit": _audit,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m frontdoor.admin", description=(__doc__ or "").splitlines()[0])
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.cmd](args, load())
    except DomainError as exc:  # unknown account, bad amount, Kafka down: the operator reads why
        print(exc.message, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
