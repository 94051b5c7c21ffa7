"""stack/process.py with real, tiny processes (a shell and `sleep`; no stack service): what a server killed from
outside leaves in its process group is found and stopped, even when it ignores SIGTERM, and nothing that is not
ours is ever touched."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from stack import process
from stack.process import PidFiles, Proc

# A "server" whose child ignores SIGTERM (as Triton's Python-backend stubs do) and outlives it.
SCRIPT = "trap '' TERM; sleep 300 & wait"


def _wait(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def server(tmp_path: Path):
    proc = Proc("fake", ["sh", "-c", SCRIPT, "stack-test-fake-server"], tmp_path / "fake.log",
                match=["stack-test-fake-server"])
    pids = PidFiles(tmp_path / "run")
    leader = process.spawn(proc, pids, "test")
    _wait(lambda: len(process.group_members(leader)) == 2, 10, "the server's child")
    yield proc, pids, leader
    for pid in process.group_members(leader):  # whatever a failed assertion left running
        os.kill(pid, signal.SIGKILL)


def test_a_killed_servers_children_are_found_and_killed_although_they_ignore_sigterm(server):
    proc, pids, leader = server
    assert process.leftovers(proc, pids) == []  # the leader lives: nothing is left over
    [child] = [pid for pid in process.group_members(leader) if pid != leader]

    os.kill(leader, signal.SIGKILL)
    _wait(lambda: process.is_zombie(leader), 10, "the leader to die")
    assert pids.live_pid(proc) is None
    assert process.leftovers(proc, pids) == [child]

    started = time.monotonic()
    assert process.kill_leftovers(proc, pids, "test", timeout=1.0) == [child]
    assert process.group_members(leader) == []
    assert time.monotonic() - started < 10  # SIGTERM was ignored; SIGKILL came after the deadline


def test_stop_after_an_outside_kill_stops_the_leftovers_and_forgets_the_pid(server):
    proc, pids, leader = server
    os.kill(leader, signal.SIGKILL)
    _wait(lambda: process.is_zombie(leader), 10, "the leader to die")

    assert process.stop(proc, pids, "test", timeout=1.0) is True
    assert process.group_members(leader) == [] and pids.read(proc.name) is None
    assert process.stop(proc, pids, "test") is False  # nothing left: a second stop does nothing


def test_stop_of_a_live_server_stops_its_whole_group(server):
    proc, pids, leader = server
    assert process.stop(proc, pids, "test", timeout=1.0) is True
    assert process.group_members(leader) == []


def test_a_recycled_pid_is_never_taken_for_ours(tmp_path: Path):
    # A pid file whose pid is now a different process (same pid, other start time): its group is not ours.
    proc = Proc("other", ["sleep"], tmp_path / "other.log", match=["sleep"])
    pids = PidFiles(tmp_path / "run")
    me = os.getpid()
    pids.write(proc, me)
    lines = pids.path(proc.name).read_text().splitlines()
    lines[1] = str(int(lines[1]) - 1)
    pids.path(proc.name).write_text("\n".join(lines) + "\n")

    assert process.leftovers(proc, pids) == []
    assert process.kill_leftovers(proc, pids, "test") == []


# ---------------------------------------------------------------- a start that fails: reported, retried


def _flaky_service(tmp_path: Path, script: str):
    """A Service of one shell process; healthy once the process has written 'ready' to its marker file."""
    from service_config import Settings
    from stack.base import Context, Service

    marker = tmp_path / "ready"

    def procs(ctx: Context) -> list[Proc]:
        return [Proc("flaky", ["sh", "-c", script, "stack-test-flaky", str(tmp_path)], tmp_path / "flaky.log",
                     match=["stack-test-flaky", str(tmp_path)])]

    service = Service(name="flaky", procs=procs, healthy=lambda ctx: marker.exists(), ports=lambda s: (),
                      start_timeout=20)
    return service, Context(Settings(stack_dir=tmp_path / "stack"))


def test_a_process_that_dies_at_every_start_is_reported_with_its_exit_status(tmp_path: Path):
    from stack import manager

    service, ctx = _flaky_service(tmp_path, 'echo "$1" >> "$1/starts"; exit 3')
    with pytest.raises(process.ExitedDuringStartup) as failure:
        manager.up_one(ctx, service)
    assert "flaky exited during startup (exit status 3)" in str(failure.value)
    assert (tmp_path / "starts").read_text().count("\n") == manager.START_ATTEMPTS


def test_a_process_killed_once_during_startup_is_started_again(tmp_path: Path, capsys):
    from stack import manager

    # First start: killed by SIGKILL before it is healthy (as if from outside); second start: becomes healthy.
    script = ('if [ ! -e "$1/killed" ]; then touch "$1/killed"; kill -KILL $$; fi; '
              'touch "$1/ready"; sleep 300')
    service, ctx = _flaky_service(tmp_path, script)
    try:
        manager.up_one(ctx, service)
        pid = ctx.pids.live_pid(service.procs(ctx)[0])
        assert pid is not None and (tmp_path / "killed").exists()
    finally:
        for proc in service.procs(ctx):
            process.stop(proc, ctx.pids, "test", timeout=5)
    assert "flaky exited during startup (killed by SIGKILL); starting it again (attempt 2 of 3)" in \
        capsys.readouterr().out
