"""Abuse limits at the front door (docs/api-decisions.md, "Abuse limits"):

- Failed authentication: each client address may fail AUTH_FAILURES_PER_MINUTE times a minute, everyone together
  AUTH_FAILURES_GLOBAL_PER_MINUTE times. Past its budget an address is refused with 429 RATE_LIMITED *before* the
  key it presents is looked up, so guessing keys costs the database nothing more; past the global budget, so is
  every address that has failed in this minute (a guess spread over many addresses), while addresses without a
  failure still reach their keys. A key no issued key can look like is refused without a lookup, as a failure.
  The per-key request budget (frontdoor/ratelimits.py) cannot do this: each guessed key has its own counter.
- Uploads: an account may have MAX_CONCURRENT_UPLOADS upload requests in progress (voice clone, custom voice,
  /v1 TTS with a reference); one more is refused with 429 RATE_LIMITED before its body is read.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from flask import Flask, current_app, g, request

from adapters.abuse_limits import AbuseCounters, LimiterError
from service_config import Settings

from .errors import RATE_LIMITED, UNAUTHORIZED, ApiError

log = logging.getLogger(__name__)

MAX_KEY_CHARS = 256  # issued keys are 46 characters; an operator-chosen one (DEMO_API_KEY) is short too
UPLOAD_PATHS = frozenset({"/api/v1/voice-clone", "/v1/custom-voices", "/v1/voice-cloning/tts"})
_EXTENSION = "voiceforge-abuse"


# --- the decisions (pure) -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuthBudget:
    per_client: int  # failures one address may have per window
    overall: int     # failures of all addresses together per window


def plausible_key(key: str) -> bool:
    """Whether a presented key could be an issued one, so is worth a lookup: printable ASCII, no spaces, short."""
    return 0 < len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable() and " " not in key


def auth_refusal(client_failures: int, all_failures: int, budget: AuthBudget) -> str | None:
    """Why this address may not try a key now, or None. Past the global budget only the addresses that failed in
    this window are refused: an attack cannot lock out the callers whose keys work."""
    if client_failures >= budget.per_client:
        return "Too many failed authentications from this address; retry after Retry-After seconds"
    if all_failures >= budget.overall and client_failures > 0:
        return "Too many failed authentications; retry after Retry-After seconds"
    return None


def upload_slot_lapse_s(settings: Settings) -> int:
    """How long one upload slot is held at most: the longest an upload request may run (a /v1 sync wait after
    the ledger's reply) plus the time a slow client may take to send 20 MB."""
    return int(settings.v1_sync_timeout_s + settings.ledger_reply_timeout_s) + 120


# --- the Flask side -------------------------------------------------------------------------------------------------

@dataclass
class AbuseLimits:
    counters: AbuseCounters
    auth: AuthBudget
    max_uploads: int
    upload_lapse_s: int


def _limits() -> AbuseLimits | None:
    return current_app.extensions.get(_EXTENSION)  # None in an app made without connections


def _client() -> str:
    return request.remote_addr or "unknown"


def check_before_lookup(key: str) -> None:
    """Called by auth before a presented key is looked up: 429 past a failed-authentication budget, 401 (counted
    as a failure) for a key that no issued key can look like."""
    limits = _limits()
    if limits is None:
        return
    mine, everyone, reset_at = limits.counters.auth_failures(_client())
    refusal = auth_refusal(mine, everyone, limits.auth)
    if refusal is not None:
        retry_after = max(1, reset_at - int(time.time()))
        raise ApiError(429, RATE_LIMITED, refusal, headers={"Retry-After": str(retry_after)})
    if not plausible_key(key):
        limits.counters.record_auth_failure(_client())
        raise ApiError(401, UNAUTHORIZED, "Invalid API key")


def record_failed_lookup() -> None:
    limits = _limits()
    if limits is not None:
        limits.counters.record_auth_failure(_client())


def register(app: Flask, settings: Settings) -> None:
    """Install the upload limit (after auth.register: it needs the caller's account) and the counters auth uses."""
    app.extensions[_EXTENSION] = AbuseLimits(
        counters=AbuseCounters(settings.redis_url, namespace=settings.kafka_topic_prefix),
        auth=AuthBudget(settings.auth_failures_per_minute, settings.auth_failures_global_per_minute),
        max_uploads=settings.max_concurrent_uploads,
        upload_lapse_s=upload_slot_lapse_s(settings),
    )

    @app.before_request
    def _take_upload_slot() -> None:
        limits = _limits()
        account_id = g.get("account_id")
        if limits is None or request.method != "POST" or request.path.rstrip("/") not in UPLOAD_PATHS \
                or not account_id:
            return
        token = uuid.uuid4().hex
        if not limits.counters.acquire_upload(account_id, token, limits.max_uploads, limits.upload_lapse_s):
            raise ApiError(429, RATE_LIMITED,
                           f"Too many uploads in progress for this account (at most {limits.max_uploads} at once); "
                           "retry when one has finished", headers={"Retry-After": "5"})
        g.upload_slot = (account_id, token)

    @app.teardown_request
    def _free_upload_slot(_exc: BaseException | None) -> None:
        slot = g.pop("upload_slot", None)
        limits = _limits()
        if slot is None or limits is None:
            return
        try:
            limits.counters.release_upload(*slot)
        except LimiterError as exc:  # the slot lapses by itself
            log.warning("could not free upload slot of %s: %s", slot[0], exc)
