"""A private, throw-away Triton server on free ports, serving any model repository (benchmarks and tests).

It reuses what the local stack installed (``python -m stack up triton``: the tritonserver binary from the
nvidia-pytriton wheel, the models' venv, the Python backend links) and builds the command line with
``stack.triton.procs`` - so it runs exactly like the stack's server, only with another model repository and other
ports. It is *not* registered with the stack (no pid file): the stack's own Triton is never touched. The server
runs in its own process group (its backend stubs are its children) and ``stop()`` ends that group only.

    with PrivateTriton(repo) as server:          # waits for /v2/health/ready, fails with the log's tail
        client = InferenceClient(server.grpc_url)

``copy_model_repository`` makes a temporary copy of ``triton_models/`` (or of some of its models) to edit, e.g.
to toggle dynamic batching.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterable

from service_config import REPO_ROOT, load

MODEL_REPO = REPO_ROOT / "triton_models"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stack_context(http: int, grpc: int, metrics: int):
    """The stack's Context with our ports; installs/links Triton first if the stack never did (idempotent)."""
    from stack import triton
    from stack.base import Context

    settings = dataclasses.replace(load(), triton_http_port=http, triton_grpc_port=grpc,
                                   triton_metrics_port=metrics, triton_grpc_url=f"127.0.0.1:{grpc}")
    ctx = Context(settings)
    binary = triton._pytriton(ctx) / "tritonserver" / "bin" / "tritonserver"
    stub = triton._backends(ctx) / "python" / "triton_python_backend_stub"
    if not binary.exists() or not stub.exists():
        triton.install(ctx)  # behind the stack's install markers: a no-op once installed
        triton.prepare(ctx)
    return ctx


class PrivateTriton:
    """tritonserver on free 127.0.0.1 ports serving ``model_repository``; a context manager."""

    def __init__(self, model_repository: str | os.PathLike, *, log_path: str | os.PathLike | None = None,
                 start_timeout_s: float = 120.0, extra_args: Iterable[str] = (), grpc_port: int | None = None) -> None:
        self.model_repository = Path(model_repository).resolve()
        self.http_port, self.metrics_port = free_port(), free_port()
        self.grpc_port = grpc_port or free_port()
        self.start_timeout_s = start_timeout_s
        self.extra_args = list(extra_args)
        self._own_log = log_path is None
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="private-triton-",
                                                                                suffix=".log")[1])
        self.proc: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def command(self) -> tuple[list[str], dict[str, str]]:
        from stack import triton

        ctx = _stack_context(self.http_port, self.grpc_port, self.metrics_port)
        proc = triton.procs(ctx)[0]
        argv = [f"--model-repository={self.model_repository}" if arg.startswith("--model-repository=") else arg
                for arg in proc.argv]
        return argv + self.extra_args, dict(proc.env or os.environ)

    def start(self) -> "PrivateTriton":
        argv, env = self.command()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=env, cwd=self.model_repository.parent, start_new_session=True)
        finally:
            log.close()
        try:
            self.wait_ready(self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise RuntimeError(f"tritonserver exited ({code}) while starting:\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"tritonserver not ready after {timeout_s:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM the server's own process group (it and its backend stubs), SIGKILL after ``timeout_s``."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # start_new_session: the group is the server's own
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)
        # Stubs may outlive the server by a moment; they are in its group: make sure none is left behind.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._own_log:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> "PrivateTriton":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def copy_model_repository(destination: str | os.PathLike, models: Iterable[str] | None = None,
                          source: str | os.PathLike = MODEL_REPO) -> Path:
    """Copy ``source`` (default ``triton_models/``) to ``destination``: every model or only ``models`` (the
    ``voicekit`` model, home of the shared package, is always copied). Caches and top-level files are left out
    except ``requirements*.txt``. Returns the copy's path."""
    source, destination = Path(source), Path(destination)
    wanted = None if models is None else set(models) | {"voicekit"}
    destination.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.is_dir() and (entry / "config.pbtxt").is_file() and (wanted is None or entry.name in wanted):
            shutil.copytree(entry, destination / entry.name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return destination


def set_batching(config_text: str, max_batch_size: int, queue_delay_us: int = 2000) -> str:
    """A model's config.pbtxt with dynamic batching on (``max_batch_size`` > 0) or off (0): sets max_batch_size,
    adds or removes the ``dynamic_batching`` block and ``allow_ragged_batch`` flags. Used to serve the same model
    both ways (bench.inference_rtf)."""
    text = re.sub(r"(?m)^max_batch_size:\s*\d+", f"max_batch_size: {max_batch_size}", config_text)
    text = re.sub(r"(?ms)^dynamic_batching\s*\{.*?^\}\s*\n?", "", text)
    text = re.sub(r"\s*allow_ragged_batch:\s*true", "", text)
    if max_batch_size > 0:
        text = re.sub(r'(\{\s*name:\s*"AUDIO"\s+data_type:\s*TYPE_FP32\s+dims:\s*\[\s*-1\s*\])',
                      r"\1  allow_ragged_batch: true", text)
        text = text.rstrip("\n") + (f"\n\ndynamic_batching {{\n  max_queue_delay_microseconds: {queue_delay_us}\n"
                                    f"}}\n")
    return text


def set_instances(config_text: str, count: int) -> str:
    """A model's config.pbtxt with ``count`` CPU instances."""
    return re.sub(r"instance_group\s*\[.*?\]", f"instance_group [ {{ kind: KIND_CPU  count: {count} }} ]",
                  config_text, flags=re.S)
