"""Idempotency keys in Redis: one record per (account, key) — a lock while the first request runs, then its answer.

``claim`` is one ``SET NX``: exactly one of any number of concurrent requests with the same key gets to run; the
others read the record (the stored answer, a different fingerprint, or "still running"). ``complete`` stores the
answer for ``ttl_s`` (24 h by default); ``release`` drops the lock so a retry may run again.
"""
from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Literal

import redis

from .ratelimit import LimiterError  # noqa: F401 (the same "Redis is down" error for callers)

Outcome = Literal["claimed", "replay", "mismatch", "running"]


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    outcome: Outcome
    answer: StoredAnswer | None = None  # for "replay"
    lock: str | None = None  # for "claimed": the running record, which only its owner may release


# Delete the key only while it still holds this request's running record (not a later owner's, not an answer).
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class IdempotencyStore:
    def __init__(self, redis_url: str, ttl_s: int, lock_s: int):
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.ttl_s = ttl_s    # how long an answer is replayed
        self.lock_s = lock_s  # how long a running request holds its key if its process dies mid-way

    @staticmethod
    def _key(account_id: str, key: str) -> str:
        # Scoped per account; the client's key is hashed so any printable key makes a short, safe Redis key.
        return f"idem:{account_id}:{hashlib.sha256(key.encode()).hexdigest()}"

    def claim(self, account_id: str, key: str, fingerprint: str) -> Claim:
        redis_key = self._key(account_id, key)
        running = json.dumps({"fp": fingerprint, "state": "running", "lock": uuid.uuid4().hex})
        if self._redis.set(redis_key, running, nx=True, ex=self.lock_s):
            return Claim("claimed", lock=running)
        raw = self._redis.get(redis_key)
        if raw is None:  # expired or released between the two calls: try once more
            if self._redis.set(redis_key, running, nx=True, ex=self.lock_s):
                return Claim("claimed", lock=running)
            raw = self._redis.get(redis_key)
            if raw is None:
                return Claim("running")
        record = json.loads(raw)
        if record.get("fp") != fingerprint:
            return Claim("mismatch")
        if record.get("state") != "done":
            return Claim("running")
        return Claim("replay", StoredAnswer(int(record["status"]), base64.b64decode(record["body"]),
                                           dict(record.get("headers") or {})))

    def complete(self, account_id: str, key: str, fingerprint: str, answer: StoredAnswer) -> None:
        record = {"fp": fingerprint, "state": "done", "status": answer.status,
                  "body": base64.b64encode(answer.body).decode(), "headers": answer.headers}
        self._redis.set(self._key(account_id, key), json.dumps(record), ex=self.ttl_s)

    def release(self, account_id: str, key: str, lock: str) -> None:
        self._redis.eval(_RELEASE, 1, self._key(account_id, key), lock)

    def ttl(self, account_id: str, key: str) -> int:
        """Seconds the record has left (-2: none); for tests and operators."""
        return int(self._redis.ttl(self._key(account_id, key)))
