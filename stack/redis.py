"""Redis from the Debian package (apt-packages.txt), our own instance on the configured port, no persistence."""
from __future__ import annotations

import shutil
import socket

from .base import Context, Service
from .process import Proc, StackError


def _binary() -> str:
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def install(ctx: Context) -> bool:
    # apt-packages.txt (installed by `up` before any service starts) carries redis-server.
    if not shutil.which("redis-server"):
        raise StackError("redis", "redis-server not on PATH even after the apt step (see logs/install-apt.log)")
    (ctx.stack_dir / "redis").mkdir(parents=True, exist_ok=True)
    return False


def procs(ctx: Context) -> list[Proc]:
    root = ctx.stack_dir / "redis"
    port = ctx.settings.redis_port
    argv = [_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(root), "--daemonize", "yes", "--pidfile", str(root / "redis.pid"),
            "--logfile", str(ctx.log("redis"))]
    # A daemonized redis-server rewrites its command line to "redis-server 127.0.0.1:<port>".
    return [Proc("redis", argv, ctx.log("redis"), match=["redis-server", f"127.0.0.1:{port}"],
                 daemon_pidfile=root / "redis.pid")]


def healthy(ctx: Context) -> bool:
    # A raw PING keeps `status` fast (no client import).
    try:
        with socket.create_connection(("127.0.0.1", ctx.settings.redis_port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


SERVICE = Service(
    name="redis",
    procs=procs,
    healthy=healthy,
    ports=lambda s: (s.redis_port,),
    install=install,
    start_timeout=30,
    first_start_timeout=60,
)
