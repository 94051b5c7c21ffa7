"""Operator CLI: accounts, API keys and credit grants; `seed-demo` makes the demo account `make run` prints.

    python -m frontdoor.admin seed-demo
    python -m frontdoor.admin create-account NAME [--credits N]
    python -m frontdoor.admin issue-key ACCOUNT_ID
    python -m frontdoor.admin revoke-key KEY_ID
    python -m frontdoor.admin grant ACCOUNT_ID AMOUNT [--kind permanent|regular] [--reason TEXT]

Credits move only through the ledger: grants are published as ledger commands and decided by the ledger agent.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import ledger
from adapters import kafka, mongo
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


def open_account(settings: Settings, db, account_id: str, name: str, monthly_credits: int) -> None:
    now = _now()
    mongo.upsert_account(db, account_id, name, now)
    _publish_ledger_command(settings, ledger.OpenAccount(
        command_id=f"open:{account_id}", account_id=account_id, at=now, monthly_allowance=monthly_credits,
        reset_at=_first_of_next_month(now)))


def create_account_with_key(name: str, credits: int, settings: Settings | None = None) -> IssuedAccount:
    settings = settings or load()
    db = prepare(settings)
    account_id = ids.new_id("acct_", 16)
    open_account(settings, db, account_id, name, credits)
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


def grant(account_id: str, amount: int, kind: str, reason: str, settings: Settings | None = None) -> None:
    settings = settings or load()
    _publish_ledger_command(settings, ledger.GrantCredits(
        command_id=ids.new_id("grant_"), account_id=account_id, at=_now(), amount=amount, kind=kind,
        reason=reason))


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
    p = sub.add_parser("revoke-key", help="revoke an API key by its id")
    p.add_argument("key_id")
    p = sub.add_parser("grant", help="grant credits through the ledger")
    p.add_argument("account_id")
    p.add_argument("amount", type=int)
    p.add_argument("--kind", choices=["permanent", "regular"], default="permanent")
    p.add_argument("--reason", default="operator grant")
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
    elif args.cmd == "grant":
        grant(args.account_id, args.amount, args.kind, args.reason, settings)
        print(f"grant of {args.amount} {args.kind} credits to {args.account_id} published")
    return 0


if __name__ == "__main__":
    sys.exit(main())
