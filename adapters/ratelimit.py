"""Fixed-window rate limiting in Redis, one counter per caller and window."""
from __future__ import annotations

import time
from dataclasses import dataclass

import redis
from redis.exceptions import RedisError

# Any Redis failure, for callers that answer "unavailable" without importing redis.
LimiterError = RedisError


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # unix seconds when the window ends

    @property
    def retry_after_s(self) -> int:
        return max(1, self.reset_at - int(time.time()))


class RateLimiter:
    def __init__(self, redis_url: str, limit: int, window_s: int = 60, namespace: str = "ratelimit"):
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.limit = limit
        self.window_s = window_s
        self.namespace = namespace  # one counter family per budget (all requests, job reads)

    def hit(self, caller: str, now: float | None = None) -> RateDecision:
        now = time.time() if now is None else now
        window = int(now // self.window_s)
        reset_at = (window + 1) * self.window_s
        key = f"{self.namespace}:{caller}:{window}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.window_s + 5)
        count, _ = pipe.execute()
        return RateDecision(count <= self.limit, self.limit, max(0, self.limit - count), reset_at)

    def ping(self) -> bool:
        return bool(self._redis.ping())
