"""The layer rules of docs/architecture.md, as import-linter contracts in pyproject.toml: one test per contract, so
a broken rule names itself. Static analysis of the source: nothing is imported or started."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

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
def test_imports_keep_the_contract(contract, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # import-linter finds the packages from the working directory
    result = lint_imports(config_filename=str(REPO / "pyproject.toml"), limit_to_contracts=(contract,),
                          no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert result == 0, report[report.find("Broken contracts"):] or report
