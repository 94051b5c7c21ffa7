"""Webhook rules without I/O: the signature, the retry schedule and which target addresses are refused.

Used by the use cases (service_layer/webhooks.py: a URL is checked when it is registered) and by the
delivery agent (streams/webhooks.py: checked again, after a fresh DNS resolution, at every attempt). The receiver's
side of the signature (`verify`) is the one examples/webhook_receiver.py and docs/webhooks.md describe.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

# Headers of every delivery (docs/webhooks.md).
SIGNATURE_HEADER = "X-VoiceForge-Signature"   # "v1=" + hex HMAC-SHA256(secret, f"{timestamp}.{body}")
TIMESTAMP_HEADER = "X-VoiceForge-Timestamp"   # Unix seconds when this attempt was signed
EVENT_ID_HEADER = "X-VoiceForge-Event-Id"     # the envelope id: the receiver's deduplication key
DELIVERY_ID_HEADER = "X-VoiceForge-Delivery-Id"
ATTEMPT_HEADER = "X-VoiceForge-Attempt"
SIGNATURE_VERSION = "v1"
# A receiver refuses a signature whose timestamp is further than this from its own clock (replay window).
TOLERANCE_S = 300
SECRET_PREFIX = "whsec_"
MAX_URL_LENGTH = 2048


# --- signing ---------------------------------------------------------------------------------------------------------

def new_secret() -> str:
    """A per-endpoint signing secret (shown once, at registration)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: HMAC-SHA256 over ``{timestamp}.{body}`` with the endpoint's secret."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def signing_secrets(endpoint: Mapping[str, Any], now: datetime) -> list[str]:
    """The secrets a delivery is signed with: the endpoint's, then its previous one while that is still valid (a
    rotation's grace period)."""
    secrets_ = [endpoint["secret"]]
    until = endpoint.get("previousSecretExpiresAt")
    if endpoint.get("previousSecret") and until is not None and until > now:
        secrets_.append(endpoint["previousSecret"])
    return secrets_


def verify(secret: str, timestamp_header: str | None, signature_header: str | None, body: bytes, now: float,
           tolerance_s: float = TOLERANCE_S) -> bool:
    """What a receiver does: the timestamp is recent (``now`` = its clock, Unix seconds) and one of the header's
    signatures (comma-separated, for secret rotation) matches, compared in constant time."""
    if not timestamp_header or not signature_header:
        return False
    try:
        timestamp = int(timestamp_header)
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate.strip()) for candidate in signature_header.split(","))


# --- retries ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, up to a cap: attempt n+1 waits base * 2**(n-1) seconds (at most cap), of
    which a random half is taken off (so receivers that failed together are not retried together)."""
    base_s: float = 10.0
    cap_s: float = 900.0
    max_attempts: int = 8

    def ceiling(self, attempt: int) -> float:
        """The longest wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.cap_s, self.base_s * 2 ** (attempt - 1)))

    def delay(self, attempt: int, rand: float) -> float | None:
        """The wait after failed attempt ``attempt``, with ``rand`` uniform in [0, 1); None: no attempt is left."""
        if attempt >= self.max_attempts:
            return None
        ceiling = self.ceiling(attempt)
        return ceiling / 2 + ceiling / 2 * rand

    def schedule(self) -> list[float]:
        """The longest waits between consecutive attempts (documentation and tests)."""
        return [self.ceiling(n) for n in range(1, self.max_attempts)]


def succeeded(status_code: int | None) -> bool:
    """A 2xx answer ends the delivery; anything else (another status, a timeout, a refused connection) retries."""
    return status_code is not None and 200 <= status_code < 300


# --- webhooks that keep failing --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DisablePolicy:
    """When a webhook is disabled for failing: ``after_failures`` deliveries in a row have failed (each after its
    last attempt, none succeeding in between) and the first of them failed at least ``after_s`` ago. So a receiver
    that is gone for good stops costing attempts and log, while one down for an afternoon, or one that failed a
    burst of events at once, keeps its webhook. ``after_failures`` 0: never."""
    after_failures: int = 20
    after_s: float = 86400.0

    def disables(self, failed_in_a_row: int, failing_since: datetime | None, now: datetime) -> bool:
        return (self.after_failures > 0 and failed_in_a_row >= self.after_failures and failing_since is not None
                and (now - failing_since).total_seconds() >= self.after_s)


def disabled_reason(failed_in_a_row: int, failing_since: datetime) -> str:
    """What the webhook's ``disabledReason`` says when it was disabled for failing (times in UTC)."""
    return (f"{failed_in_a_row} deliveries in a row failed after their last attempt, the first at "
            f"{failing_since.strftime('%Y-%m-%dT%H:%M:%SZ')}; fix the receiver, enable the webhook again and "
            "redeliver what it missed")


DISABLED_BY_REQUEST = "disabled through the API"


# A receiver that answers 429 or 503 with Retry-After is not asked again sooner, up to this long (then the retry
# schedule goes on as before: the attempts left are not spent any faster).
RETRY_AFTER_STATUSES = (429, 503)
MAX_RETRY_AFTER_S = 3600.0


def retry_after_s(status_code: int | None, header: str | None, now: datetime) -> float | None:
    """The wait a receiver asked for (RFC 9110 Retry-After: delay-seconds or an HTTP date), bounded by
    MAX_RETRY_AFTER_S; None when the answer is not a 429/503 or the header is absent or unreadable."""
    if status_code not in RETRY_AFTER_STATUSES or not header:
        return None
    value = header.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        return None
    return min(max((when - now).total_seconds(), 0.0), MAX_RETRY_AFTER_S)


# --- which targets are refused ---------------------------------------------------------------------------------------

class TargetRefused(ValueError):
    """A webhook URL or one of its addresses that deliveries must not go to."""


# Cloud metadata services that are not inside a private or link-local range.
_METADATA = (ipaddress.ip_network("100.100.100.200/32"),   # Alibaba Cloud
             ipaddress.ip_network("fd00:ec2::254/128"))    # AWS over IPv6 (also unique-local: belt and braces)
_SHARED = ipaddress.ip_network("100.64.0.0/10")            # carrier-grade NAT: not public


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_url(url: str) -> Target:
    """The scheme, host and port of a webhook URL; TargetRefused for anything but a plain http(s) URL."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"url must be an http(s) URL of at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"url is not a valid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("url must start with https:// or http://")
    if not parts.hostname:
        raise TargetRefused("url must name a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("url must not carry credentials")
    if parts.fragment:
        raise TargetRefused("url must not have a #fragment")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))


def address_refusal(address: str) -> str | None:
    """Why deliveries must not go to this IP address (None: a public address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in _METADATA) or str(ip) == "169.254.169.254":
        return f"{ip} is a cloud metadata address"
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    if ip.is_private or (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED):
        return f"{ip} is a private address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return f"{ip} is not a public address"
    return None


def check_addresses(host: str, addresses: list[str], *, allow_private: bool) -> list[str]:
    """The addresses a delivery may connect to: all of ``host``'s resolved addresses, or TargetRefused when any
    is refused (one public record beside a private one is how DNS rebinding starts) or there are none."""
    if not addresses:
        raise TargetRefused(f"{host} does not resolve to any address")
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise TargetRefused(f"{host} resolves to {reason}; webhooks go to public addresses only")
    return addresses
