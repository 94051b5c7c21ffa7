"""HTTP to webhook receivers: the one module that resolves their hosts and POSTs to them.

The address policy (service_layer/webhook_logic.py) is applied to the addresses the connection really uses: the
delivery's resolver checks every address it hands to aiohttp, so a host that re-resolves to a private address
between registration and delivery (DNS rebinding) is refused at delivery time. Redirects are not followed (one
could point at an address the policy refuses).
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from service_layer.webhook_logic import TargetRefused, check_addresses, parse_url


def resolve_host(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now (registration-time check); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


class _PolicyResolver(AbstractResolver):
    """Resolves as aiohttp would, then refuses the lot when any address is one deliveries must not reach."""

    def __init__(self, allow_private: bool):
        self._inner = ThreadedResolver()
        self._allow_private = allow_private
        self.refusal: str | None = None

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        try:
            check_addresses(host, [r["host"] for r in results], allow_private=self._allow_private)
        except TargetRefused as exc:
            self.refusal = str(exc)
            raise OSError(str(exc)) from exc
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True)
class PostOutcome:
    status_code: int | None   # None: no HTTP answer (refused target, timeout, connection error)
    error: str | None
    duration_ms: int
    retry_after: str | None = None  # the answer's Retry-After header, as sent


def _literal_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


async def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool,
               timeout_s: float) -> PostOutcome:
    """POST ``body`` to ``url``; never raises for what the receiver or the network does."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None, retry_after: str | None = None) -> PostOutcome:
        return PostOutcome(status, error, round((time.monotonic() - started) * 1000), retry_after)

    try:
        target = parse_url(url)
        if _literal_ip(target.host):  # aiohttp does not resolve an IP literal: check it here
            check_addresses(target.host, [target.host], allow_private=allow_private)
    except TargetRefused as exc:
        return outcome(None, f"refused: {exc}")
    resolver = _PolicyResolver(allow_private)
    connector = aiohttp.TCPConnector(resolver=resolver, force_close=True, use_dns_cache=False)
    try:
        async with aiohttp.ClientSession(connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=timeout_s)) as session:
            async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.content.read(4096)  # a little of the answer; the rest is not ours to keep
                return outcome(response.status, None, response.headers.get("Retry-After"))
    except asyncio.TimeoutError:
        return outcome(None, f"timed out after {timeout_s:g} s")
    except aiohttp.ClientError as exc:
        if resolver.refusal:
            return outcome(None, f"refused: {resolver.refusal}")
        return outcome(None, f"{type(exc).__name__}: {exc}"[:300])
