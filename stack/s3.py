"""S3 API from OpenStack Swift (PyPI): account, container and object servers plus a proxy with s3api + tempauth.

Swift, unlike moto, checks signatures and presigned-URL expiry and persists to disk. Credentials: access key
``test:tester``, secret ``testing`` (tempauth user ``user_test_tester``), path-style addressing, region us-east-1.
Internal server ports: STACK_SWIFT_ACCOUNT_PORT / _CONTAINER_PORT / _OBJECT_PORT (defaults 6202/6201/6200).
"""
from __future__ import annotations

import getpass
import os
import secrets
from pathlib import Path

from .base import Context, Service, http_status, tcp_open
from .install import digest, run_logged
from .process import Proc, StackError, say
from .venvs import ensure_venv_packages, services_venv

PACKAGE = "swift==2.38.3"
SERVERS = ("account", "container", "object")  # started before the proxy, stopped after it
PROXY_PIPELINE = ("catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk s3api tempauth copy slo dlo "
                  "proxy-logging proxy-server")


def _internal_ports() -> dict[str, int]:
    defaults = {"account": 6202, "container": 6201, "object": 6200}
    return {name: int(os.environ.get(f"STACK_SWIFT_{name.upper()}_PORT", port)) for name, port in defaults.items()}


def _paths(ctx: Context) -> dict[str, Path]:
    root = ctx.stack_dir / "s3"
    return {"root": root, "etc": root / "etc", "devices": root / "devices", "device": root / "devices" / "d1"}


def install(ctx: Context) -> bool:
    p = _paths(ctx)
    log = ctx.log("install-s3")
    first = not (services_venv(ctx) / "bin" / "swift-proxy-server").exists()
    # pyeclib, lxml, xattr and friends all come as manylinux wheels: no build dependencies needed.
    ensure_venv_packages("s3", services_venv(ctx), [PACKAGE], ctx.markers, "venv-services-swift", log)
    p["device"].mkdir(parents=True, exist_ok=True)
    _check_xattr(p["device"])
    ports = _internal_ports()
    ring_key = digest(PACKAGE, *(f"{name}:{port}" for name, port in sorted(ports.items())))
    rings = ctx.markers.ensure("s3-rings", ring_key, lambda: _build_rings(ctx, ports, log))
    return first or rings


def _check_xattr(directory: Path) -> None:
    # Swift keeps object metadata in user xattrs and has no option to do without them.
    probe = directory / ".xattr-probe"
    try:
        probe.touch()
        os.setxattr(probe, "user.swift.probe", b"1")
    except OSError as exc:
        raise StackError("s3", f"the filesystem of {directory} does not support user xattrs ({exc}); Swift needs "
                               f"them: set VOICE_STACK_DIR to a folder on ext4/xfs/btrfs (tmpfs needs kernel >= 6.6)"
                         ) from exc
    finally:
        probe.unlink(missing_ok=True)


def _build_rings(ctx: Context, ports: dict[str, int], log: Path) -> None:
    etc = _paths(ctx)["etc"]
    etc.mkdir(parents=True, exist_ok=True)
    builder = services_venv(ctx) / "bin" / "swift-ring-builder"
    say("s3", "building single-device rings")
    for name in SERVERS:
        for stale in (etc / f"{name}.builder", etc / f"{name}.ring.gz"):
            stale.unlink(missing_ok=True)
        # 2^8 partitions, 1 replica, min_part_hours 1: the smallest ring that suits one device.
        run_logged("s3", f"ring {name}: create", [builder, etc / f"{name}.builder", "create", "8", "1", "1"], log)
        run_logged("s3", f"ring {name}: add device d1 on port {ports[name]}",
                   [builder, etc / f"{name}.builder", "add", f"r1z1-127.0.0.1:{ports[name]}/d1", "100"], log)
        try:
            run_logged("s3", f"ring {name}: rebalance", [builder, etc / f"{name}.builder", "rebalance"], log)
        except StackError:
            if not (etc / f"{name}.ring.gz").exists():  # exit status 1 is only a warning when the ring exists
                raise


def prepare(ctx: Context) -> None:
    p = _paths(ctx)
    etc = p["etc"]
    etc.mkdir(parents=True, exist_ok=True)
    # Hash path prefix/suffix are chosen once: changing them would orphan every stored object.
    hash_file = etc / "hash-path"
    if not hash_file.exists():
        hash_file.write_text(f"{secrets.token_hex(8)} {secrets.token_hex(8)}\n")
    prefix, suffix = hash_file.read_text().split()
    # swift_dir in each server's config makes Swift read this swift.conf instead of /etc/swift/swift.conf.
    _write(etc / "swift.conf", f"""\
[swift-hash]
swift_hash_path_prefix = {prefix}
swift_hash_path_suffix = {suffix}

[storage-policy:0]
name = Policy-0
default = yes
""")
    common = f"""\
[DEFAULT]
bind_ip = 127.0.0.1
workers = 0
user = {getpass.getuser()}
swift_dir = {etc}
devices = {p['devices']}
mount_check = false
log_level = INFO
"""
    ports = _internal_ports()
    for name in SERVERS:
        _write(etc / f"{name}-server.conf", common + f"""\
bind_port = {ports[name]}
log_name = s3-{name}

[pipeline:main]
pipeline = {name}-server

[app:{name}-server]
use = egg:swift#{name}
""")
    _write(etc / "proxy-server.conf", f"""\
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {ctx.settings.s3_port}
workers = 0
user = {getpass.getuser()}
swift_dir = {etc}
log_name = s3-proxy
log_level = INFO

[pipeline:main]
pipeline = {PROXY_PIPELINE}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = {ctx.settings.s3_region}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
""")


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def procs(ctx: Context) -> list[Proc]:
    etc = _paths(ctx)["etc"]
    venv_bin = services_venv(ctx) / "bin"
    s = ctx.settings
    settings = repr((s.s3_port, s.s3_region, sorted(_internal_ports().items())))  # they live in the .conf files
    result = []
    for name in (*SERVERS, "proxy"):
        conf = etc / f"{name}-server.conf"
        # -v: log to stderr too (our log file); without it Swift logs only to syslog.
        argv = [str(venv_bin / "python"), str(venv_bin / f"swift-{name}-server"), str(conf), "-v"]
        result.append(Proc(f"s3-{name}", argv, ctx.log("s3"), match=[f"swift-{name}-server", str(conf)],
                           fingerprint=settings))
    return result


def _client(ctx: Context):
    import boto3
    from botocore.config import Config

    s = ctx.settings
    return boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{s.s3_port}", region_name=s.s3_region,
        aws_access_key_id=s.s3_access_key_id, aws_secret_access_key=s.s3_secret_access_key,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", connect_timeout=2,
                      read_timeout=5, retries={"max_attempts": 1}),
    )


def healthy(ctx: Context) -> bool:
    s = ctx.settings
    if not all(tcp_open(port) for port in (s.s3_port, *_internal_ports().values())):
        return False
    if http_status(f"http://127.0.0.1:{s.s3_port}/healthcheck") != 200:
        return False
    _client(ctx).list_buckets()  # proves s3api, tempauth and the account/container servers answer
    return True


SERVICE = Service(
    name="s3",
    procs=procs,
    healthy=healthy,
    ports=lambda s: (s.s3_port, *_internal_ports().values()),
    install=install,
    prepare=prepare,
    start_timeout=60,
    first_start_timeout=120,
)
