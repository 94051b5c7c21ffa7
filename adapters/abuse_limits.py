"""Abuse counters in Redis: failed authentications (per client address and in all) and uploads in progress per
account. The decisions are the front door's (frontdoor/abuse.py); this module only counts.

Every key carries the deployment's namespace (its Kafka topic prefix), so deployments sharing one Redis never
count each other's failures.
"""
from __future__ import annotations

import time

import redis

from .ratelimit import LimiterError  # noqa: F401 (the same "Redis is down" error for callers)

# Uploads in progress are a sorted set of request tokens scored by when each slot lapses: a front door that dies
# mid-upload leaves a slot that lapses by itself instead of blocking the account for ever.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class AbuseCounters:
    def __init__(self, redis_url: str, namespace: str, window_s: int = 60):
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self.namespace = namespace
        self.window_s = window_s

    def _window(self, now: float | None) -> tuple[int, int]:
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        return window, (window + 1) * self.window_s

    def _failure_keys(self, client: str, window: int) -> tuple[str, str]:
        return (f"authfail:{self.namespace}:ip:{client}:{window}", f"authfail:{self.namespace}:all:{window}")

    def auth_failures(self, client: str, now: float | None = None) -> tuple[int, int, int]:
        """(failures of ``client``, failures of everyone, unix time the window ends) in the current window."""
        window, reset_at = self._window(now)
        mine, everyone = self._redis.mget(self._failure_keys(client, window))
        return int(mine or 0), int(everyone or 0), reset_at

    def record_auth_failure(self, client: str, now: float | None = None) -> None:
        window, _ = self._window(now)
        pipe = self._redis.pipeline(transaction=True)
        for key in self._failure_keys(client, window):
            pipe.incr(key)
            pipe.expire(key, self.window_s + 5)
        pipe.execute()

    def acquire_upload(self, account_id: str, token: str, limit: int, lapse_s: int, now: float | None = None) -> bool:
        """Take one of ``limit`` upload slots of the account (False: all taken); it lapses after ``lapse_s``."""
        now = time.time() if now is None else now
        key = f"uploads:{self.namespace}:{account_id}"
        return bool(self._acquire(keys=[key], args=[now, now + lapse_s, limit, token, lapse_s + 5]))

    def uploads_in_progress(self, account_id: str, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return int(self._redis.zcount(f"uploads:{self.namespace}:{account_id}", f"({now}", "+inf"))

    def release_upload(self, account_id: str, token: str) -> None:
        self._redis.zrem(f"uploads:{self.namespace}:{account_id}", token)
