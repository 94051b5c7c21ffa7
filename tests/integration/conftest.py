"""Integration fixtures: the real local stack, plus a front door and a worker started for this test session.

Each session uses its own Kafka topic prefix and MongoDB database, so runs never see each other's data. A service
that cannot start fails the session loudly: nothing here is skipped.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
INFRA = ["kafka", "mongo", "redis", "s3", "triton"]


def wait_for(condition: Callable[[], object], timeout_s: float, what: str, interval_s: float = 0.2):
    """Poll ``condition`` until it returns something truthy; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # keep polling: the thing may not be up yet
            last_error = exc
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}; last error: {last_error!r}")


def error_body(resp) -> dict:
    """An error answer's body without its ``requestId``, after checking that it names the request as the
    X-Request-Id header does (every error body carries it)."""
    body = dict(resp.json())
    request_id = resp.headers.get("X-Request-Id")
    assert request_id and body.pop("requestId", None) == request_id, (resp.headers, body)
    return body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def infra():
    import stack

    # A Triton started for the tests gives each Kokoro enrolment a short budget (the default 60 s would make
    # every clone test take that long); the quality benchmark (bench/voice_quality.py) measures the full budget.
    # With 20 s the style fit never runs (the search keeps the budget), so it is not compiled either (≈ 20 s of
    # CPU and ≈ 3.6 GiB); test_kokoro_enrol_triton.py runs it in a private Triton.
    os.environ.setdefault("VOICEKIT_KOKORO_ENROL_BUDGET_S", "20")
    os.environ.setdefault("VOICEKIT_KOKORO_STYLE_FIT", "0")
    try:
        stack.up(INFRA)
    except Exception as exc:
        pytest.fail(f"the local stack did not start: {exc}", pytrace=False)
    return True


@pytest.fixture(scope="session")
def session_env(infra):
    run_id = uuid.uuid4().hex[:8]
    env = {
        "KAFKA_TOPIC_PREFIX": f"test-{run_id}",
        "MONGO_DB": f"voiceforge_test_{run_id}",
        # Free ports, so several test sessions (and a running `make run`) can share one machine.
        "FRONTDOOR_PORT": str(free_port()),
        "WORKER_WEB_PORT": str(free_port()),
        "FRONTDOOR_WORKERS": "1",
        "RATE_LIMIT_PER_MINUTE": "100000",
        # The suite sends many bad keys and parallel uploads from 127.0.0.1 on purpose; the abuse budgets are tested
        # on a front door of their own (tests/integration/test_abuse_limits.py).
        "AUTH_FAILURES_PER_MINUTE": "100000",
        "AUTH_FAILURES_GLOBAL_PER_MINUTE": "100000",
        "MAX_CONCURRENT_UPLOADS": "1000",
        "LEDGER_REPLY_TIMEOUT_S": "15",
        "LEDGER_TIMER_INTERVAL_S": "1",  # expiries and monthly resets are looked for every second
        "BROKER_SESSION_TIMEOUT": "10",  # Faust: a killed worker is out of its consumer group in 10 s, not 60
        # Webhooks: the tests' receivers listen on 127.0.0.1, and retries come within seconds.
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
        "WEBHOOK_RETRY_BASE_S": "0.5",
        "WEBHOOK_RETRY_CAP_S": "2",
        "WEBHOOK_MAX_ATTEMPTS": "6",
        "WEBHOOK_TIMEOUT_S": "5",
        # A webhook is disabled at its third delivery in a row that failed (default: 20, over at least a day).
        "WEBHOOK_DISABLE_AFTER_FAILURES": "3",
        "WEBHOOK_DISABLE_AFTER_S": "0",
    }
    os.environ.update(env)  # the in-process helpers (seeding, direct Mongo reads) see the same settings
    return env


class Process:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            args, cwd=REPO, env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 15) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def _start(name, args, env, log_dir, health: Callable[[], bool], timeout_s: float) -> Process:
    process = Process(name, args, env, log_dir)

    def ready():
        if not process.alive():
            raise AssertionError(f"{name} exited with {process.proc.returncode}:\n{process.log_tail()}")
        return health()

    try:
        wait_for(ready, timeout_s, f"{name} to become healthy")
    except AssertionError as exc:
        process.stop()
        pytest.fail(f"{exc}\n--- {name} log ({process.log_path}) ---\n{process.log_tail()}", pytrace=False)
    return process


@pytest.fixture(scope="session")
def app_processes(session_env, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("logs")
    fd_port, worker_port = session_env["FRONTDOOR_PORT"], session_env["WORKER_WEB_PORT"]

    def http_ok(url):
        return lambda: requests.get(url, timeout=2).status_code < 500

    worker = _start("workers", [sys.executable, "-m", "streams", "worker"], session_env, log_dir,
                    http_ok(f"http://127.0.0.1:{worker_port}/"), 120)
    frontdoor = _start("frontdoor", [sys.executable, "-m", "frontdoor"], session_env, log_dir,
                       http_ok(f"http://127.0.0.1:{fd_port}/readyz"), 60)
    processes = {"workers": worker, "frontdoor": frontdoor}
    yield processes
    for process in processes.values():
        process.stop()


@pytest.fixture()
def restart_workers(app_processes, session_env, tmp_path_factory):
    """Kill the session's worker process (SIGKILL by default: no clean shutdown, no leaving the consumer group)
    and start a new one in its place; returns the new Process once its web port answers."""
    log_dir = tmp_path_factory.mktemp("restarted-workers")

    def restart(sig: int = signal.SIGKILL) -> Process:
        old = app_processes["workers"]
        if old.alive():
            old.proc.send_signal(sig)
            old.proc.wait(30)
        old.stop()
        port = session_env["WORKER_WEB_PORT"]
        new = _start("workers", [sys.executable, "-m", "streams", "worker"], session_env, log_dir,
                     lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=2).status_code < 500, 120)
        app_processes["workers"] = new
        return new

    return restart


@pytest.fixture(scope="session")
def base_url(app_processes, session_env) -> str:
    return f"http://127.0.0.1:{session_env['FRONTDOOR_PORT']}"


@pytest.fixture(scope="session")
def demo_account(app_processes, base_url):
    """A seeded account with an API key and credits, as `make run` seeds it; waits until the credits show."""
    from frontdoor import admin

    seeded = admin.seed_demo(credits=50_000)
    headers = {"Authorization": f"Bearer {seeded.api_key}"}
    wait_for(
        lambda: requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json().get("credits")
        == 50_000,
        60, "the demo account's credits to be granted through the ledger",
    )
    return seeded


@pytest.fixture(scope="session")
def extra_frontdoor(session_env, tmp_path_factory):
    """Start another front door of this session with some settings changed; returns its base URL.

    Used for rate-limit and outage tests, whose settings must not affect the main front door.
    """
    started: list[Process] = []
    log_dir = tmp_path_factory.mktemp("extra-frontdoors")

    def start(name: str, **overrides: str) -> str:
        port = str(free_port())
        env = {**session_env, "FRONTDOOR_PORT": port, "FRONTDOOR_WORKERS": "1", **overrides}
        url = f"http://127.0.0.1:{port}"
        started.append(_start(name, [sys.executable, "-m", "frontdoor"], env, log_dir,
                              lambda: requests.get(f"{url}/healthz", timeout=2).status_code == 200, 60))
        return url

    yield start
    for process in started:
        process.stop()


@pytest.fixture()
def fresh_account(app_processes, base_url):
    """A new account with its own key and 1000 credits, so a test's balance is its own."""
    from frontdoor import admin

    issued = admin.create_account_with_key(name="test", credits=1000)
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"] == 1000,
             60, "the new account's credits to show")
    return issued


@pytest.fixture(scope="module")
def settings():
    """Settings of a running Triton (the stack's; started if it is not healthy) for tests of the models."""
    import stack
    from service_config import load

    try:
        stack.up(["triton"])
    except Exception as exc:
        pytest.fail(f"Triton did not start: {exc}", pytrace=False)
    return load()


def run_with_client(settings, use, timeout_s: float | None = None):
    """Run ``await use(client)`` with a fresh InferenceClient on a fresh event loop; always close the client."""
    import asyncio

    from inference_client import InferenceClient

    async def main():
        client = InferenceClient.from_settings(settings)
        if timeout_s is not None:
            client = InferenceClient(settings.triton_grpc_url, timeout_s=timeout_s)
        async with client:
            return await use(client)

    return asyncio.run(main())
