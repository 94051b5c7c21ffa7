# Two commands for a fresh machine:  `make run` (install, start the stack, the API and the workers)
# and `make test` (install, start the stack, run every test against it).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: setup stack run test unit down status bench

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

setup: $(STAMP)

stack: setup
	$(PY) -m stack up

run: setup
	$(PY) -m stack up --all
	$(PY) -m frontdoor.admin seed-demo

test: setup
	$(PY) -m pytest -v -ra

unit: setup
	$(PY) -m pytest -v -m "not integration" tests/unit

status: setup
	$(PY) -m stack status

down: setup
	$(PY) -m stack down
