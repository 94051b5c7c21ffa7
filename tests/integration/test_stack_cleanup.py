"""The stack manager cleans up what it started: after Triton is killed from outside, `up` leaves nothing of the old
server behind and `status` shows the new server's pid; `down` after such a kill stops what is left too.

The Triton here is the stack's own (its binary, venv, Python-backend stubs and service code, started by
``manager.up_one``) with its own stack dir, ports and a one-model repository, so the shared server the other tests
use is never killed. The model forks a helper at load that ignores SIGTERM, as a model using a fork-based process
pool would: a process in the server's group that outlives the server unless the stack manager kills it.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import textwrap
from pathlib import Path

import pytest

from stack import manager, process, triton
from stack.base import Context
from tests.integration.conftest import free_port, wait_for

pytestmark = pytest.mark.integration

MODEL = textwrap.dedent('''\
    import os
    import signal
    import time

    import numpy as np
    import triton_python_backend_utils as pb


    class TritonPythonModel:
        def initialize(self, args):
            if os.fork() == 0:  # a helper that ignores SIGTERM and never exits by itself
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                while True:
                    time.sleep(1)

        def execute(self, requests):
            return [pb.InferenceResponse([pb.Tensor("OUT", np.array([1], np.int32))]) for _ in requests]
''')
CONFIG = textwrap.dedent('''\
    name: "lingering"
    backend: "python"
    max_batch_size: 0
    output [ { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] } ]
    instance_group [ { kind: KIND_CPU count: 1 } ]
''')


@pytest.fixture(scope="module")
def installed():
    """The stack's Context once its Triton is installed (an `up` only the first time: the running server is left
    alone, whatever its state)."""
    import stack

    shared = Context()
    if not (shared.venvs / "triton").is_dir() or not (shared.stack_dir / "triton" / "python-info").exists():
        stack.up(["triton"])
    return shared


@pytest.fixture()
def own_triton(installed, tmp_path, monkeypatch):
    """A Context for a private stack dir that shares the installed Triton venv, and the Triton service without its
    install step (nothing here may pip-install into the shared venv)."""
    shared = installed
    stack_dir = tmp_path / "stack"
    (stack_dir / "venvs").mkdir(parents=True)
    (stack_dir / "venvs" / "triton").symlink_to(shared.venvs / "triton")
    (stack_dir / "triton").mkdir()
    shutil.copy(shared.stack_dir / "triton" / "python-info", stack_dir / "triton" / "python-info")
    models = tmp_path / "models"
    (models / "lingering" / "1").mkdir(parents=True)
    (models / "lingering" / "config.pbtxt").write_text(CONFIG)
    (models / "lingering" / "1" / "model.py").write_text(MODEL)
    monkeypatch.setenv("STACK_TRITON_MODEL_REPO", str(models))
    own = dataclasses.replace(shared.settings, stack_dir=stack_dir, triton_http_port=free_port(),
                              triton_grpc_port=free_port(), triton_metrics_port=free_port())
    ctx = Context(own)
    service = dataclasses.replace(triton.SERVICE, install=None)
    groups: list[int] = []
    yield ctx, service, models, groups
    manager.down(["triton"], settings=own, timeout=10)
    for group in groups:  # whatever a failed assertion left running
        for pid in process.group_members(group):
            os.kill(pid, signal.SIGKILL)


def _ours(models: Path) -> list[int]:
    """Every live process started for this test's model repository (the server, its stubs, the model's helper)."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()
            and str(models) in process.cmdline(int(entry)) and not process.is_zombie(int(entry))]


def _server_pid(ctx: Context) -> int:
    [row] = manager.status(ctx.settings, ["triton"])
    assert row.healthy and len(row.pids) == 1, row
    return row.pids[0]


def test_up_after_a_killed_triton_leaves_no_orphans_and_status_shows_the_new_pid(own_triton):
    ctx, service, models, groups = own_triton
    manager.up_one(ctx, service, timeout=120)
    first = _server_pid(ctx)
    groups.append(first)
    # the server, one stub and the stub's helper, all in the server's process group
    wait_for(lambda: len(process.group_members(first)) >= 3, 30, "the model's helper process")
    assert set(process.group_members(first)) == set(_ours(models))

    os.kill(first, signal.SIGKILL)
    wait_for(lambda: process.is_zombie(first), 10, "the killed server to exit")
    left = wait_for(lambda: process.leftovers(service.procs(ctx)[0], ctx.pids), 10, "what the server left")
    [row] = manager.status(ctx.settings, ["triton"])
    assert row.pids == [] and not row.healthy
    assert set(row.leftovers) == set(left) and set(left) <= set(process.group_members(first))

    manager.up_one(ctx, service, timeout=120)
    second = _server_pid(ctx)
    groups.append(second)
    assert second != first and "tritonserver" in process.cmdline(second)
    assert process.group_members(first) == [], "processes of the killed server survived `up`"
    assert set(_ours(models)) <= set(process.group_members(second)), "a process outside the new server's group"
    [row] = manager.status(ctx.settings, ["triton"])
    assert row.leftovers == []


def test_down_after_a_killed_triton_stops_what_it_left(own_triton):
    ctx, service, models, groups = own_triton
    manager.up_one(ctx, service, timeout=120)
    pid = _server_pid(ctx)
    groups.append(pid)
    wait_for(lambda: len(process.group_members(pid)) >= 3, 30, "the model's helper process")

    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: process.leftovers(service.procs(ctx)[0], ctx.pids), 10, "what the server left")
    manager.down(["triton"], settings=ctx.settings, timeout=10)

    assert _ours(models) == [], "processes of the killed server survived `down`"
    [row] = manager.status(ctx.settings, ["triton"])
    assert row.pids == [] and row.leftovers == []
