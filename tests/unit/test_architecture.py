"""The layer rules of docs/architecture.md, as import-linter contracts in pyproject.toml: one test per contract, so
a broken rule names itself. Static analysis of the source: nothing of ours is imported."""
from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_rules_cover_every_package_of_the_service():
    packages = {p.parent.name for p in REPO.glob("*/__init__.py")} | {"voicekit"}
    roots = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"])
    assert packages - {"tests", "bench"} <= roots, "a new top-level package needs a place in the layers"
    layered = {name.strip() for contract in CONTRACTS if contract["id"] == "layers"
               for layer in contract["layers"] for name in layer.split("|")}
    assert roots - layered == {"stack", "voicekit"}, "stack and voicekit are tools apart; every other is a layer"


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_imports_keep_the_contract(contract):
    # Its own process: import-linter's CLI reconfigures logging (dictConfig), which would silence our loggers in the
    # tests that run after this one.
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint_imports), "--contract", contract, "--no-cache"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[report.find("Broken contracts"):] or report
