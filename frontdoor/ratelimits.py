"""Per-caller rate limits with X-RateLimit-* headers on every response, errors included."""
from __future__ import annotations

from flask import Flask, g, request

from .auth import hash_key, presented_key
from .context import services
from .errors import RATE_LIMITED, ApiError

EXEMPT_PATHS = ("/healthz", "/readyz")
EXEMPT_PREFIXES = ("/api/docs/assets/", "/api/reference/assets/", "/sandbox/assets/")


def _caller() -> str:
    key = presented_key()
    return f"key:{hash_key(key)}" if key else f"ip:{request.remote_addr}"


def register(app: Flask) -> None:
    @app.before_request
    def _limit():
        if request.path in EXEMPT_PATHS or request.path.startswith(EXEMPT_PREFIXES):
            return None
        decision = services().limiter.hit(_caller())
        g.rate_decision = decision
        if not decision.allowed:
            raise ApiError(429, RATE_LIMITED, "Rate limit exceeded; retry after the window resets",
                           headers={"Retry-After": str(decision.retry_after_s)})
        return None

    @app.after_request
    def _headers(response):
        decision = g.get("rate_decision")
        if decision is not None:
            response.headers["X-RateLimit-Limit"] = str(decision.limit)
            response.headers["X-RateLimit-Remaining"] = str(decision.remaining)
            response.headers["X-RateLimit-Reset"] = str(decision.reset_at)
        return response
