"""Processes the stack starts: spawn detached, pid files, stop by pid, health waits, /proc readings.

A pid file under <stack_dir>/run/ holds, one per line, the pid of one process we started, its start time, a digest
of the configuration it was started with, then the substrings its command line must contain. Before we signal a
pid we check that /proc/<pid> still has that start time and command line, so a recycled pid never gets killed;
the digest tells `up` that settings changed since (e.g. another port) and the process must be restarted.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

_print_lock = threading.Lock()


def say(service: str, message: str) -> None:
    """One progress line; services start in threads, so lines are printed whole."""
    with _print_lock:
        print(f"[stack] {service}: {message}", flush=True)


class StackError(RuntimeError):
    """A service failed; the message names it, its log file and the log's last lines."""

    def __init__(self, service: str, message: str, log: Path | None = None, tail_lines: int = 20):
        self.service = service
        self.log = log
        text = f"{service}: {message}"
        if log is not None:
            text += f"\n  log: {log}"
            tail = tail_file(log, tail_lines)
            if tail:
                text += f"\n  last {len(tail)} log lines:\n" + "\n".join("    | " + line for line in tail)
        super().__init__(text)


class ExitedDuringStartup(StackError):
    """A process we started died before its service was healthy (`up` starts the service again, a few times)."""


def tail_file(path: Path, n: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024 - 1))  # the last 64 KiB is plenty for ~20 lines
            data = f.read()
    except OSError:
        return []
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[-n:] if n > 0 else []


# ---------------------------------------------------------------- /proc readings


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; everything after the last ')' is space separated.
    return raw[raw.rindex(")") + 2:].split()


def start_time(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None  # field 22 of stat: starttime in clock ticks


def is_zombie(pid: int) -> bool:
    fields = _proc_stat(pid)
    return fields is None or fields[0] in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """pid's children, grandchildren... (Triton's Python-backend stubs count towards Triton's memory)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


# ---------------------------------------------------------------- process specs and pid files


@dataclass
class Proc:
    """One long-running process of a service.

    argv runs either in the foreground (we detach it with setsid and write its pid) or, with ``daemon_pidfile``
    set, it daemonizes itself (mongod --fork, redis-server --daemonize) and we read the pid it writes there.
    ``match`` are substrings its /proc cmdline must contain for us to call it ours.
    """

    name: str
    argv: Sequence[str]
    log: Path
    match: Sequence[str]
    env: dict[str, str] | None = None
    cwd: Path | None = None
    daemon_pidfile: Path | None = None
    fingerprint: str = ""  # settings that change behaviour without showing in argv (e.g. ports in a config file)

    def config_digest(self) -> str:
        return hashlib.sha256("\0".join([*self.argv, self.fingerprint]).encode()).hexdigest()[:16]


class PidFiles:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir

    def path(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def write(self, proc: Proc, pid: int) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.path(proc.name).with_suffix(".tmp")
        tmp.write_text("\n".join([str(pid), str(start_time(pid) or 0), proc.config_digest(), *proc.match]) + "\n")
        tmp.replace(self.path(proc.name))

    def read(self, name: str) -> tuple[int, int, str, list[str]] | None:
        try:
            lines = self.path(name).read_text().splitlines()
            return int(lines[0]), int(lines[1]), lines[2], lines[3:]
        except (OSError, ValueError, IndexError):
            return None

    def remove(self, name: str) -> None:
        try:
            self.path(name).unlink()
        except FileNotFoundError:
            pass

    def live_pid(self, proc: Proc) -> int | None:
        """The pid from proc's pid file if that process is still the one we started, else None."""
        entry = self.read(proc.name)
        if entry is None:
            return None
        pid, started, _, match = entry
        if is_zombie(pid) or start_time(pid) != started:
            return None
        line = cmdline(pid)
        if not all(token in line for token in match or proc.match):
            return None
        return pid

    def is_current(self, proc: Proc) -> bool:
        """Whether the running proc was started with today's argv and settings."""
        entry = self.read(proc.name)
        return entry is not None and entry[2] == proc.config_digest()


def spawn(proc: Proc, pids: PidFiles, service: str) -> int:
    """Start proc detached (own session, stdin from /dev/null, output appended to its log); return its pid."""
    proc.log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if proc.env is None else proc.env)
    with open(proc.log, "ab") as log:
        log.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} stack starts: {' '.join(proc.argv)}\n".encode())
        log.flush()
        if proc.daemon_pidfile is not None:
            return _spawn_daemon(proc, pids, service, env, log)
        child = subprocess.Popen(
            list(proc.argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            cwd=proc.cwd, env=env, start_new_session=True, close_fds=True,
        )
    pids.write(proc, child.pid)
    _children[child.pid] = child
    # Reap the child when it exits so a crashed service does not linger as a zombie while we still run.
    threading.Thread(target=child.wait, daemon=True).start()
    return child.pid


# The processes this run spawned (not daemons): their exit status says how a failed start ended.
_children: dict[int, subprocess.Popen] = {}


def how_it_ended(pid: int | None) -> str:
    """' (exit status N)' or ' (killed by SIGX)' for a child this run spawned that has ended, else ''."""
    child = _children.get(pid) if pid is not None else None
    if child is None:
        return ""
    code = child.poll()
    if code is None:
        return ""
    if code < 0:
        try:
            return f" (killed by {signal.Signals(-code).name})"
        except ValueError:
            return f" (killed by signal {-code})"
    return f" (exit status {code})"


def _spawn_daemon(proc: Proc, pids: PidFiles, service: str, env: dict, log) -> int:
    assert proc.daemon_pidfile is not None
    try:
        proc.daemon_pidfile.unlink()
    except FileNotFoundError:
        pass
    result = subprocess.run(list(proc.argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            cwd=proc.cwd, env=env, timeout=120)
    if result.returncode != 0:
        raise StackError(service, f"{proc.argv[0]} exited with status {result.returncode} while daemonizing",
                         proc.log)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid = int(proc.daemon_pidfile.read_text().split()[0])
            if start_time(pid) is not None:
                pids.write(proc, pid)
                return pid
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)
    raise StackError(service, f"{proc.name} daemonized but wrote no pid to {proc.daemon_pidfile}", proc.log)


def stop(proc: Proc, pids: PidFiles, service: str, timeout: float = 30.0) -> bool:
    """SIGTERM our process and its process group (only its own children: stubs, workers), wait, then SIGKILL.

    When our process is already dead (killed from outside), what is left of its group is killed instead.
    Returns True if something was running.
    """
    pid = pids.live_pid(proc)
    if pid is None:
        left = kill_leftovers(proc, pids, service)
        pids.remove(proc.name)
        return bool(left)
    group = _own_group(pid)
    say(service, f"stopping {proc.name} (pid {pid})")
    _signal(pid, group, signal.SIGTERM)
    _wait_then_kill(pid, group, timeout, service, proc.name)
    pids.remove(proc.name)
    return True


def leftovers(proc: Proc, pids: PidFiles) -> list[int]:
    """Live members of the process group of proc's last start, when that group's leader (our process) is dead.

    E.g. Triton killed with SIGKILL: Python-backend stubs (they ignore SIGTERM) or a model's forked helpers stay
    behind. The group id is the pid we started (a session leader). Linux does not hand out a pid that is still a
    process group id, so while members remain no other process can have taken that pid: they are ours.
    """
    entry = pids.read(proc.name)
    if entry is None:
        return []
    leader, started, _, _ = entry
    now = start_time(leader)
    if now is not None and now != started:
        return []  # the pid was recycled, so our group had emptied before: the group there now is not ours
    if now is not None and not is_zombie(leader):
        return []  # the leader lives: nothing is left over
    return [pid for pid in group_members(leader) if pid != leader]


def kill_leftovers(proc: Proc, pids: PidFiles, service: str, timeout: float = 5.0) -> list[int]:
    """Stop what leftovers() finds: SIGTERM to the group, then SIGKILL after timeout. Returns the pids it found."""
    left = leftovers(proc, pids)
    entry = pids.read(proc.name)
    if left and entry is not None:
        group = entry[0]
        say(service, f"{proc.name} (pid {group}) is gone but {len(left)} process(es) of its group remain "
                     f"({', '.join(map(str, left))}); stopping them")
        _signal(group, group, signal.SIGTERM)
        _wait_then_kill(group, group, timeout, service, f"what is left of {proc.name}")
    return left


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes whose process group is group."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _proc_stat(int(entry))
            if fields and int(fields[2]) == group and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return found


# Once the leader has exited, members still alive this long after it will not leave by themselves (Triton's
# stubs ignore SIGTERM and normally follow their server out within a second).
_LEADER_GONE_GRACE_S = 5.0


def _wait_then_kill(pid: int, group: int | None, timeout: float, service: str, what: str) -> None:
    deadline = time.monotonic() + timeout
    leader_gone_at: float | None = None
    while time.monotonic() < deadline and not _gone(pid, group):
        if leader_gone_at is None and is_zombie(pid):
            leader_gone_at = time.monotonic()
        elif leader_gone_at is not None and time.monotonic() - leader_gone_at > _LEADER_GONE_GRACE_S:
            break
        time.sleep(0.1)
    if not _gone(pid, group):
        say(service, f"{what} (pid {pid}) did not stop on SIGTERM; sending SIGKILL")
        _signal(pid, group, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _gone(pid, group):
            time.sleep(0.1)


def _own_group(pid: int) -> int | None:
    # We start every process as a session/group leader (setsid, or the daemon's own setsid): then the group is
    # just it and its children, and signalling the group also stops e.g. Triton's backend stubs.
    try:
        return pid if os.getpgid(pid) == pid else None
    except ProcessLookupError:
        return None


def _signal(pid: int, group: int | None, sig: int) -> None:
    try:
        if group is not None:
            os.killpg(group, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _gone(pid: int, group: int | None) -> bool:
    if not is_zombie(pid):
        return False
    return group is None or not group_members(group)


def wait_healthy(service: str, check: Callable[[], bool], procs: Sequence[Proc], pids: PidFiles,
                 timeout: float, log: Path) -> None:
    """Poll check() until it returns True; fail early when one of procs dies, or at the deadline."""
    started = time.monotonic()
    next_note = started + 15
    while True:
        for proc in procs:
            if pids.live_pid(proc) is None:
                entry = pids.read(proc.name)
                # The reaper thread may not have collected the status yet: give it a moment.
                ended = ""
                for _ in range(20):
                    ended = how_it_ended(entry[0] if entry else None)
                    if ended or entry is None or entry[0] not in _children:
                        break
                    time.sleep(0.05)
                raise ExitedDuringStartup(service, f"{proc.name} exited during startup{ended}", proc.log)
        try:
            if check():
                return
        except Exception:  # a check that raises is simply "not yet"
            pass
        now = time.monotonic()
        if now - started > timeout:
            raise StackError(service, f"not healthy after {timeout:.0f}s", log)
        if now >= next_note:
            say(service, f"still waiting for health ({now - started:.0f}s of {timeout:.0f}s)")
            next_note = now + 15
        time.sleep(0.25)
