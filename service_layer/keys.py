"""API keys: random, shown once, stored as SHA-256 hashes; issued, listed and revoked per account."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from .errors import InvalidInput, NotFound
from .ports import Doc, Ports

KEY_PREFIX = "vf_"
MAX_ACTIVE_KEYS = 20  # per account, for self-service creation


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def active_key(ports: Ports, key: str) -> Doc | None:
    """The stored record of an active key, or None (unknown or revoked)."""
    return ports.store.find_active_key(hash_key(key))


def account_for_key(ports: Ports, key: str) -> str | None:
    """The account an active key belongs to, or None (unknown or revoked)."""
    record = active_key(ports, key)
    return None if record is None else str(record["accountId"])


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str  # the key itself: shown once, never stored
    record: dict[str, Any]  # the stored key without its hash: _id, accountId, name, prefix, createdAt, revokedAt


def issue_key(ports: Ports, account_id: str, *, secret: str | None = None, name: str | None = None) -> IssuedKey:
    """Store a new key's hash (``secret`` reuses a given key, e.g. the demo account's saved one)."""
    secret = secret or generate_key()
    key_id = ports.new_id("key_", 16)
    now = ports.clock()
    ports.store.insert_api_key(key_id, account_id, hash_key(secret), secret[:8], now, name)
    record = {"_id": key_id, "accountId": account_id, "name": name, "prefix": secret[:8], "createdAt": now,
              "revokedAt": None}
    return IssuedKey(key_id, secret, record)


def create_key(ports: Ports, account_id: str, name: str | None = None) -> IssuedKey:
    """Self-service: a caller's new key, at most MAX_ACTIVE_KEYS active at once (InvalidInput beyond)."""
    if ports.store.count_active_api_keys(account_id) >= MAX_ACTIVE_KEYS:
        raise InvalidInput(f"Too many active API keys (max {MAX_ACTIVE_KEYS}); revoke one first")
    return issue_key(ports, account_id, name=name)


def list_keys(ports: Ports, account_id: str) -> list[dict[str, Any]]:
    """The account's keys, newest first, active and revoked (never their hashes)."""
    return ports.store.list_api_keys(account_id)


def revoke_key(ports: Ports, key_id: str, account_id: str | None = None) -> None:
    """Revoke a key; ``account_id`` limits it to that account's keys (None: the operator, any key).
    NotFound when there is no such active key."""
    if not ports.store.revoke_api_key(account_id, key_id, ports.clock()):
        raise NotFound("API key not found or already revoked")


def require_account(ports: Ports, account_id: str) -> Doc:
    account = ports.store.find_account(account_id)
    if account is None:
        raise NotFound(f"no such account: {account_id}")
    return account
