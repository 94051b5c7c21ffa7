"""What every service module builds on: the Context (paths, settings), the Service record and health probes.

Service modules (kafka, mongo, redis, s3, triton, apps) import this; nothing here imports them (the registry does).
"""
from __future__ import annotations

import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from service_config import REPO_ROOT, Settings, load

from . import process
from .install import Markers
from .process import PidFiles, Proc


class Context:
    """Paths and settings every service function gets."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or load()
        self.stack_dir = Path(self.settings.stack_dir).resolve()
        self.logs = self.stack_dir / "logs"
        self.run = self.stack_dir / "run"
        self.markers = Markers(self.stack_dir / "markers")
        self.pids = PidFiles(self.run)
        self.repo_root = REPO_ROOT

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def venvs(self) -> Path:
        return self.stack_dir / "venvs"


@dataclass
class Service:
    name: str
    procs: Callable[[Context], list[Proc]]  # cheap and pure: also used by down/status
    healthy: Callable[[Context], bool]  # quick (<~2 s) and side-effect free
    ports: Callable[[Settings], Sequence[int]]  # first one is shown by status; all must be free to start
    install: Callable[[Context], bool] | None = None  # returns True when it did first-time work
    prepare: Callable[[Context], None] | None = None  # write config files right before a start
    ready: Callable[[Context, Service, float], None] | None = None  # default: wait for healthy()
    default: bool = True  # part of a plain `up`
    requires: tuple[str, ...] = ()
    start_timeout: float = 90.0
    first_start_timeout: float = 300.0  # right after an install: cold JVM/page cache, first-time init

    def wait_healthy(self, ctx: Context, timeout: float) -> None:
        procs = self.procs(ctx)
        process.wait_healthy(self.name, lambda: self.healthy(ctx), procs, ctx.pids, timeout,
                             procs[0].log if procs else ctx.log(self.name))


# ---------------------------------------------------------------- small health probes


def tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """HTTP status of a GET, or None when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None
