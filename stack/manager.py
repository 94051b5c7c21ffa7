"""What `up`, `down` and `status` do with the service table (stack/registry.py).

A Service (stack/base.py) says how to install itself (idempotent, behind markers), which processes it runs, how to
tell it is healthy and what to do once its processes are up (e.g. MongoDB's replSetInitiate). Everything here is
generic: parallel starts in threads, skips of healthy services, deadlines, stops by verified pid.
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from service_config import Settings

from . import process
from .base import Context, Service, tcp_open
from .install import ensure_apt
from .process import StackError, say
from .registry import registry, resolve


@contextmanager
def stack_lock(ctx: Context) -> Iterator[None]:
    """One `up`/`down` at a time per stack dir (two test sessions may call up together)."""
    ctx.run.mkdir(parents=True, exist_ok=True)
    with open(ctx.run / "stack.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("stack", "another `python -m stack` holds the lock; waiting")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------- up


def _timeout_override() -> float | None:
    raw = os.environ.get("STACK_START_TIMEOUT")
    return float(raw) if raw else None


def up_one(ctx: Context, service: Service, timeout: float | None = None) -> None:
    started = time.monotonic()
    procs = service.procs(ctx)
    live = {proc.name: ctx.pids.live_pid(proc) for proc in procs}
    current = all(ctx.pids.is_current(proc) for proc in procs)
    if procs and all(live.values()) and not current:
        say(service.name, "settings changed since it was started; restarting")
    elif procs and all(live.values()):
        pids = ", ".join(str(pid) for pid in live.values())
        if _quietly_healthy(ctx, service):
            say(service.name, f"already running and healthy (pid {pids})")
            return
        say(service.name, f"running (pid {pids}) but not healthy yet; waiting")
        _ready(ctx, service, timeout or service.start_timeout)
        say(service.name, f"healthy after {time.monotonic() - started:.1f}s")
        return
    for proc in reversed(procs):  # half a service (a Swift server died), or old settings: start it whole
        if live[proc.name]:
            process.stop(proc, ctx.pids, service.name)
        else:  # killed from outside: its children (Triton's stubs, gunicorn's workers) may still run
            process.kill_leftovers(proc, ctx.pids, service.name)

    busy = [port for port in service.ports(ctx.settings) if tcp_open(port, 0.2)]
    if busy and not any(live.values()) and _quietly_healthy(ctx, service):
        # e.g. the stack of another checkout on the same ports: use it, never stop it.
        say(service.name, f"healthy on port(s) {', '.join(map(str, busy))} but not started from "
                          f"{ctx.stack_dir}; using it as it is")
        return
    if busy:
        raise StackError(service.name, f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 already in use by a "
                                       f"process this stack did not start; stop it or change the port settings")
    fresh = bool(service.install(ctx)) if service.install else False
    deadline = timeout or (service.first_start_timeout if fresh else service.start_timeout)
    for attempt in range(1, START_ATTEMPTS + 1):
        if service.prepare:
            service.prepare(ctx)
        procs = service.procs(ctx)  # after install: paths may only now be known
        say(service.name, "starting" + (f" (log {procs[0].log})" if procs else ""))
        for proc in procs:
            process.spawn(proc, ctx.pids, service.name)
        try:
            _ready(ctx, service, deadline)
            break
        except process.ExitedDuringStartup as exc:
            _stop_all(ctx, service, procs)
            busy = [port for port in service.ports(ctx.settings) if tcp_open(port, 0.2)]
            if attempt == START_ATTEMPTS or busy:
                raise
            # A process that dies before writing a line was usually killed from outside (seen once in CI):
            # starting it again is cheap, and a real fault fails the same way every time and is then reported.
            what = str(exc).splitlines()[0].removeprefix(f"{service.name}: ")
            say(service.name, f"{what}; starting it again (attempt {attempt + 1} of "
                              f"{START_ATTEMPTS})")
        except BaseException:
            _stop_all(ctx, service, procs)
            raise
    pids = ", ".join(str(ctx.pids.live_pid(proc)) for proc in procs)
    say(service.name, f"healthy in {time.monotonic() - started:.1f}s (pid {pids})")


START_ATTEMPTS = 3


def _stop_all(ctx: Context, service: Service, procs: list) -> None:
    for proc in reversed(procs):  # leave nothing half-started behind; the log stays
        process.stop(proc, ctx.pids, service.name, timeout=10)


def _quietly_healthy(ctx: Context, service: Service) -> bool:
    try:
        return bool(service.healthy(ctx))
    except Exception:  # noqa: BLE001
        return False


def _ready(ctx: Context, service: Service, timeout: float) -> None:
    if service.ready:
        service.ready(ctx, service, timeout)
    else:
        service.wait_healthy(ctx, timeout)


def up(names: Sequence[str] | None = None, include_all: bool = False, timeout: float | None = None,
       settings: Settings | None = None) -> None:
    """Install (first time) and start services in parallel; raise StackError naming every failure."""
    ctx = Context(settings)
    timeout = timeout or _timeout_override()
    table = registry()
    wanted = resolve(names, include_all)
    started = time.monotonic()
    with stack_lock(ctx):
        say("stack", _machine_summary())  # a failed start in CI is easier to read knowing the machine's state
        ensure_apt(ctx.log("install-apt"))
        done = {name: threading.Event() for name in wanted}
        errors: dict[str, BaseException] = {}

        def worker(name: str) -> None:
            try:
                for requirement in table[name].requires:
                    done[requirement].wait()
                    if requirement in errors:
                        raise StackError(name, f"not started: it requires {requirement}, which failed")
                up_one(ctx, table[name], timeout)
            except BaseException as exc:  # noqa: BLE001 - reported below, per service
                errors[name] = exc
            finally:
                done[name].set()

        threads = [threading.Thread(target=worker, args=(name,), name=f"up-{name}") for name in wanted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        parts = [str(exc) if isinstance(exc, StackError) else f"{name}: {exc!r}" for name, exc in errors.items()]
        raise StackError("stack", f"{len(errors)} service(s) failed: {', '.join(errors)}\n" + "\n".join(parts))
    say("stack", f"up: {', '.join(wanted)} healthy ({time.monotonic() - started:.1f}s)")


def _machine_summary() -> str:
    try:
        meminfo = dict(line.split(":", 1) for line in open("/proc/meminfo").read().splitlines() if ":" in line)
        available_gib = int(meminfo["MemAvailable"].split()[0]) / 2**20
        load = os.getloadavg()[0]
    except (OSError, KeyError, ValueError):
        return "machine: (no /proc/meminfo)"
    return f"machine: {os.cpu_count()} cpus, {available_gib:.1f} GiB memory available, load {load:.1f}"


# ---------------------------------------------------------------- down


def down(names: Sequence[str] | None = None, settings: Settings | None = None, timeout: float = 30.0) -> None:
    """Stop the services we started (all of them by default): dependants first, the rest in parallel."""
    ctx = Context(settings)
    table = registry()
    wanted = resolve(names, include_all=not names, with_requirements=False)
    with stack_lock(ctx):
        dependants = {name for name in wanted if table[name].requires}
        for batch in ([n for n in wanted if n in dependants], [n for n in wanted if n not in dependants]):
            threads = [threading.Thread(target=_down_one, args=(ctx, table[name], timeout)) for name in batch]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()


def _down_one(ctx: Context, service: Service, timeout: float) -> None:
    stopped = False
    for proc in reversed(service.procs(ctx)):  # e.g. Swift: proxy first, then the storage servers
        stopped |= process.stop(proc, ctx.pids, service.name, timeout)
    if stopped:
        say(service.name, "stopped")


# ---------------------------------------------------------------- status


@dataclass
class Row:
    name: str
    pids: list[int]
    port: int
    healthy: bool
    rss_mib: float
    leftovers: list[int] = field(default_factory=list)  # processes left by a dead one of ours (`up`/`down` stop them)


def status(settings: Settings | None = None, names: Sequence[str] | None = None) -> list[Row]:
    ctx = Context(settings)
    table = registry()
    wanted = resolve(names, include_all=not names, with_requirements=False)
    rows: dict[str, Row] = {}

    def check(name: str) -> None:
        service = table[name]
        procs = service.procs(ctx)
        pids = [pid for pid in (ctx.pids.live_pid(proc) for proc in procs) if pid]
        left = [pid for proc in procs for pid in process.leftovers(proc, ctx.pids)]
        rss = sum(process.rss_bytes(p) for pid in pids for p in [pid, *process.descendants(pid)])
        rows[name] = Row(name, pids, service.ports(ctx.settings)[0], _quietly_healthy(ctx, service), rss / 2**20,
                         left)

    threads = [threading.Thread(target=check, args=(name,)) for name in wanted]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [rows[name] for name in wanted]


def is_healthy(name: str, settings: Settings | None = None) -> bool:
    """True when the service answers its health check at the configured address."""
    return _quietly_healthy(Context(settings), registry()[name])
