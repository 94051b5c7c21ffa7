"""First-time installs: Debian packages, install markers, logged install commands (venvs: stack/venvs.py).

A marker file <stack_dir>/markers/<name> holds the key (versions, content hashes) of what was installed; an
install step runs only when the key differs, so a second `up` does no install work.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Callable, Sequence

from .process import StackError, say

APT_PACKAGES_FILE = Path(__file__).resolve().parent / "apt-packages.txt"

_apt_lock = threading.Lock()


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    return digest(path.read_bytes()) if path.exists() else "absent"


class Markers:
    def __init__(self, directory: Path):
        self.directory = directory

    def done(self, name: str, key: str) -> bool:
        try:
            return (self.directory / name).read_text().strip() == key
        except OSError:
            return False

    def record(self, name: str, key: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / name).write_text(key + "\n")

    def ensure(self, name: str, key: str, step: Callable[[], None]) -> bool:
        """Run step unless marker name already records key. Returns True if it ran."""
        if self.done(name, key):
            return False
        step()
        self.record(name, key)
        return True


def run_logged(service: str, what: str, argv: Sequence[str], log: Path, env: dict | None = None,
               cwd: Path | None = None, timeout: float = 1800) -> None:
    """Run an install command with its output in log; on failure raise with the log's tail."""
    say(service, what)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n===== {' '.join(map(str, argv))}\n".encode())
        out.flush()
        try:
            result = subprocess.run(list(map(str, argv)), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env, cwd=cwd, timeout=timeout)
        except FileNotFoundError as exc:
            raise StackError(service, f"{what}: command not found: {argv[0]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise StackError(service, f"{what}: timed out after {timeout:.0f}s", log) from exc
    if result.returncode != 0:
        raise StackError(service, f"{what}: exit status {result.returncode}", log)


# ---------------------------------------------------------------- Debian packages


def apt_packages() -> list[str]:
    lines = APT_PACKAGES_FILE.read_text().splitlines() if APT_PACKAGES_FILE.exists() else []
    return [word for line in lines for word in line.split("#", 1)[0].split()]


def missing_apt_packages(packages: Sequence[str]) -> list[str]:
    missing = []
    for package in packages:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if result.returncode != 0 or "install ok installed" not in result.stdout:
            missing.append(package)
    return missing


def ensure_apt(log: Path) -> None:
    """Install every package of apt-packages.txt that is missing, in one apt-get call (update first, once)."""
    with _apt_lock:
        packages = apt_packages()
        if not shutil.which("dpkg-query"):
            say("apt", "not a Debian system: make sure these are installed: " + " ".join(packages))
            return
        missing = missing_apt_packages(packages)
        if not missing:
            return
        if os.geteuid() == 0:
            prefix: list[str] = []
        elif shutil.which("sudo"):
            prefix = ["sudo", "-n"]
        else:
            raise StackError("apt", f"Debian packages missing ({' '.join(missing)}) and we are neither root nor "
                                    f"have sudo; install them with: apt-get install -y {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run_logged("apt", "apt-get update", prefix + ["apt-get", "update"], log, env=env, timeout=600)
        run_logged("apt", f"apt-get install -y {' '.join(missing)}",
                   prefix + ["apt-get", "install", "-y", "--no-install-recommends", *missing], log, env=env,
                   timeout=1800)
        still = missing_apt_packages(missing)
        if still:
            raise StackError("apt", f"still missing after apt-get install: {' '.join(still)}", log)
