"""API keys on requests: read the presented key, resolve its account once per request (401 otherwise)."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask, g, request

from service_layer import keys
from service_layer.keys import KEY_PREFIX, generate_key, hash_key  # noqa: F401 (re-exported for callers)
from service_layer.ports import Ports

from . import abuse
from .context import ports as current_ports
from .errors import UNAUTHORIZED, ApiError


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key", "").strip() or None


def authenticate(ports: Ports | None = None) -> str:
    """The calling account's id; raises 401 UNAUTHORIZED otherwise. Looked up once per request (the
    ``before_request`` hook of :func:`register` already did for every /api/v1 path)."""
    if g.get("account_id"):
        return str(g.account_id)
    key = presented_key()
    if not key:
        raise ApiError(401, UNAUTHORIZED, "Authentication required")
    abuse.check_before_lookup(key)  # failed-authentication budgets: a guess past them costs no lookup
    account_id = keys.account_for_key(ports or current_ports(), key)
    if account_id is None:
        abuse.record_failed_lookup()
        raise ApiError(401, UNAUTHORIZED, "Invalid API key")
    g.account_id = account_id
    return account_id


API_PREFIX = ("/api/v1/", "/v1/")  # both API surfaces: the same keys, accounts and credits


def register(app: Flask, ports_of: Callable[[], Ports]) -> None:
    """Authenticate every /api/v1 request before its body is parsed, so a caller without a valid key learns
    nothing but 401 (not which parameters would have been wrong)."""

    @app.before_request
    def _authenticate() -> None:
        if request.path.startswith(API_PREFIX) and request.method != "OPTIONS":
            authenticate(ports_of())
