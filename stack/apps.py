"""The project's own processes (front door, stream workers): started only by name or with `up --all`.

Each is one `python -m <module>` in the project venv with the stack's client settings in its environment. To add
one, append a python_module_service(...) line to SERVICES.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable, Sequence

from service_config import REPO_ROOT, Settings

from .base import Context, Service, http_status
from .process import Proc

INFRA = ("kafka", "mongo", "redis", "s3", "triton")


def project_python() -> str:
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def client_env(settings: Settings) -> dict[str, str]:
    """Variables service_config reads: an app started by the stack talks to this stack."""
    s = settings
    return {
        "VOICE_STACK_DIR": str(Path(s.stack_dir).resolve()),
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap,
        "MONGO_URI": s.mongo_uri,
        "MONGO_DB": s.mongo_db,
        "REDIS_URL": s.redis_url,
        "S3_ENDPOINT_URL": s.s3_endpoint_url,
        "S3_ACCESS_KEY_ID": s.s3_access_key_id,
        "S3_SECRET_ACCESS_KEY": s.s3_secret_access_key,
        "S3_REGION": s.s3_region,
        "S3_BUCKET": s.s3_bucket,
        "TRITON_GRPC_URL": s.triton_grpc_url,
        "TRITON_HTTP_PORT": str(s.triton_http_port),
        "FRONTDOOR_PORT": str(s.frontdoor_port),
        "WORKER_WEB_PORT": str(s.worker_web_port),
    }


def python_module_service(name: str, args: Sequence[str], port: Callable[[Settings], int],
                          healthy: Callable[[Context], bool], requires: Sequence[str] = INFRA,
                          start_timeout: float = 120) -> Service:
    def procs(ctx: Context) -> list[Proc]:
        env = {**os.environ, **client_env(ctx.settings), "PYTHONUNBUFFERED": "1"}
        argv = [project_python(), "-m", *args]
        return [Proc(name, argv, ctx.log(name), env=env, cwd=ctx.repo_root, match=[" ".join(["-m", *args])],
                     fingerprint=repr(sorted(client_env(ctx.settings).items())))]

    return Service(name=name, procs=procs, healthy=healthy, ports=lambda s: (port(s),), default=False,
                   requires=tuple(requires), start_timeout=start_timeout, first_start_timeout=start_timeout)


SERVICES = [
    python_module_service(
        "frontdoor", ["frontdoor"], lambda s: s.frontdoor_port,
        healthy=lambda ctx: http_status(f"http://127.0.0.1:{ctx.settings.frontdoor_port}/healthz") == 200),
    python_module_service(
        "workers", ["streams", "worker"], lambda s: s.worker_web_port,
        # Faust's web server: any HTTP answer means the worker is up.
        healthy=lambda ctx: http_status(f"http://127.0.0.1:{ctx.settings.worker_web_port}/") is not None),
]
