"""The operator commands print no warnings (e.g. runpy's "found in sys.modules" when a package imports the module
that `python -m` runs). Each runs in a fresh interpreter with the default warning filters, as an operator's would."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv", [
    ["-m", "frontdoor.admin", "--help"],
    ["-m", "stack", "--help"],
    ["-m", "stack", "env"],
])
def test_the_command_prints_no_warning(argv):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "PYTHONDEVMODE")}
    result = subprocess.run([sys.executable, *argv], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout and result.stderr == ""
