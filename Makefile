# Two commands for a fresh machine:  `make run` (install, start the stack, the API and the workers)
# and `make test` (install, start the stack, run every test against it).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODEPS := triton_models/requirements-nodeps.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(NODEPS) | sha1sum | cut -c1-12)

.PHONY: setup stack run test unit down status bench

$(STAMP): pyproject.toml $(NODEPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	# The speaker encoder's weights ship in the resemblyzer wheel; its torch/librosa dependencies are not needed.
	$(PY) -m pip install -q --no-deps -r $(NODEPS)
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
