"""Accept latency of POST /api/v1/tts (auth + rate limit + publish + the ledger's decision) at 1, 8 and 32
concurrent clients on loopback, next to a do-nothing endpoint (GET /healthz) of the same server in the same run.

Needs the stack and the workers running (`make run`). Starts its own front door on a free port with the rate limit
raised, so the benchmark measures the path, not the limiter's refusals; stops it at the end.

    python -m bench.accept_latency [--requests 200] [--levels 1,8,32]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.stats import summary
from frontdoor import admin
from service_config import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _timed(session: requests.Session, method: str, url: str, **kwargs) -> float:
    started = time.perf_counter()
    resp = session.request(method, url, timeout=30, **kwargs)
    elapsed = time.perf_counter() - started
    if resp.status_code >= 300:
        raise SystemExit(f"{method} {url} answered {resp.status_code}: {resp.text[:200]}")
    return elapsed


def _run_level(concurrency: int, total: int, call) -> list[float]:
    sessions = [requests.Session() for _ in range(concurrency)]
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda i: call(sessions[i % concurrency]), range(total)))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200, help="requests per endpoint and level")
    parser.add_argument("--levels", default="1,8,32")
    args = parser.parse_args()

    port = _free_port()
    env = {**os.environ, "FRONTDOOR_PORT": str(port), "RATE_LIMIT_PER_MINUTE": "100000000",
           "FRONTDOOR_WORKERS": os.environ.get("FRONTDOOR_WORKERS", "2")}
    server = subprocess.Popen([sys.executable, "-m", "frontdoor"], cwd=REPO_ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the benchmark's front door did not start")
            time.sleep(0.2)
        issued = admin.create_account_with_key("bench", credits=10_000_000)
        headers = {"Authorization": f"Bearer {issued.api_key}"}
        while requests.get(f"{base}/api/v1/credits", headers=headers, timeout=5).json()["credits"] == 0:
            time.sleep(0.1)
        body = {"text": "Hi.", "voiceId": "sys_slt", "format": "wav"}
        tts = lambda s: _timed(s, "POST", f"{base}/api/v1/tts", json=body, headers=headers)  # noqa: E731
        noop = lambda s: _timed(s, "GET", f"{base}/healthz")  # noqa: E731
        _run_level(4, 40, tts)  # warm-up: connections, producer, ledger state
        print(f"{args.requests} requests per endpoint and level; front door: {env['FRONTDOOR_WORKERS']} gunicorn "
              f"workers x 16 threads; machine: {os.cpu_count()} cores")
        for level in [int(x) for x in args.levels.split(",")]:
            print(f"concurrency {level:>2}  POST /api/v1/tts  {summary(_run_level(level, args.requests, tts))}")
            print(f"concurrency {level:>2}  GET  /healthz     {summary(_run_level(level, args.requests, noop))}")
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    main()
