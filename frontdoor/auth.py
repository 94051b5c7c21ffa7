"""API keys: random, shown once, stored as SHA-256 hashes, looked up per request."""
from __future__ import annotations

import hashlib
import secrets

from flask import g, request

from adapters import mongo

from .errors import ApiError, UNAUTHORIZED

KEY_PREFIX = "vf_"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.headers.get("X-API-Key", "").strip() or None


def authenticate(db) -> str:
    """The calling account's id; raises 401 UNAUTHORIZED otherwise. Looked up once per request."""
    if g.get("account_id"):
        return g.account_id
    key = presented_key()
    if not key:
        raise ApiError(401, UNAUTHORIZED, "Authentication required")
    record = mongo.find_active_key(db, hash_key(key))
    if record is None:
        raise ApiError(401, UNAUTHORIZED, "Invalid API key")
    g.account_id = record["accountId"]
    return record["accountId"]


API_PREFIX = "/api/v1/"


def register(app, db_of) -> None:
    """Authenticate every /api/v1 request before its body is parsed, so a caller without a valid key learns
    nothing but 401 (not which parameters would have been wrong)."""

    @app.before_request
    def _authenticate():
        if request.path.startswith(API_PREFIX) and request.method != "OPTIONS":
            authenticate(db_of())
