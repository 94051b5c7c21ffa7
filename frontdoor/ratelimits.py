"""Per-caller rate limits with X-RateLimit-* headers on every response, errors included."""
from __future__ import annotations

from flask import Flask, g, request

from .auth import hash_key, presented_key
from .context import services
from .errors import RATE_LIMITED, ApiError

EXEMPT_PATHS = ("/healthz", "/readyz")
EXEMPT_PREFIXES = ("/api/docs/assets/", "/api/reference/assets/", "/sandbox/assets/")


# Reads of one's own jobs count in their own window (JOB_READ_RATE_LIMIT_PER_MINUTE), so polling jobs never uses
# up the budget of the requests that do work (RATE_LIMIT_PER_MINUTE). Endpoint names of flask-smorest's views.
JOB_READ_ENDPOINTS = frozenset({"tts.SpeechStatus", "v1-jobs.JobStatus", "v1-jobs.JobResult"})


def _limiter():
    if request.method in ("GET", "HEAD") and request.endpoint in JOB_READ_ENDPOINTS:
        return services().job_read_limiter
    return services().limiter


def _caller() -> str:
    key = presented_key()
    return f"key:{hash_key(key)}" if key else f"ip:{request.remote_addr}"


def register(app: Flask) -> None:
    @app.before_request
    def _limit():
        if request.path in EXEMPT_PATHS or request.path.startswith(EXEMPT_PREFIXES):
            return None
        decision = _limiter().hit(_caller())
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
