#!/usr/bin/env python3
"""Container healthcheck for the VoiceForge app image (installed as /usr/local/bin/voiceforge-healthcheck).

    voiceforge-healthcheck frontdoor   GET /healthz on the front door; healthy on 2xx
    voiceforge-healthcheck ready       GET /readyz on the front door (MongoDB and Redis answer); healthy on 2xx
    voiceforge-healthcheck workers     the Faust worker's web server answers at all (it has no health route)

It runs inside the container it checks, so it reaches the Faust web server, which the code binds to
127.0.0.1:$WORKER_WEB_PORT (not reachable from other containers). Ports come from the same variables the
processes read, with the same defaults as service_config. Standard library only; exits 0 when healthy.
"""
from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 5.0


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    return int(raw)


def _get(url: str, any_answer: bool) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            if 200 <= response.status < 300 or any_answer:
                return 0
            print(f"{url}: HTTP {response.status}", file=sys.stderr)
            return 1
    except urllib.error.HTTPError as exc:  # the server answered with an error status
        if any_answer:
            return 0
        print(f"{url}: HTTP {exc.code}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:  # refused, timed out, reset, bad URL
        print(f"{url}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str]) -> int:
    target = argv[1] if len(argv) > 1 else "frontdoor"
    if target == "frontdoor":
        return _get(f"http://127.0.0.1:{_port('FRONTDOOR_PORT', 5000)}/healthz", any_answer=False)
    if target == "ready":
        return _get(f"http://127.0.0.1:{_port('FRONTDOOR_PORT', 5000)}/readyz", any_answer=False)
    if target == "workers":
        return _get(f"http://127.0.0.1:{_port('WORKER_WEB_PORT', 6066)}/", any_answer=True)
    print(f"usage: {argv[0]} frontdoor|ready|workers", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
