# Two commands for a fresh machine:  `make run` (install, start the stack, the API and the workers)
# and `make test` (install, lint, start the stack, run every test against it).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODEPS := triton_models/requirements-nodeps.txt
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(NODEPS) | sha1sum | cut -c1-12)

.PHONY: setup stack run test unit lint down status bench

$(STAMP): pyproject.toml $(NODEPS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# setuptools' note on every editable install of a flat layout ("be careful with folders in your working
	@# directory...") is not a problem here; only that warning is silenced.
	PYTHONWARNINGS='ignore:Editable installation' $(PY) -m pip install -q -e '.[test]'
	# The speaker encoder's weights ship in the resemblyzer wheel; its torch/librosa dependencies are not needed.
	$(PY) -m pip install -q --no-deps -r $(NODEPS)
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

setup: $(STAMP)
	@# The API reference page's Scalar bundle (npm, pinned, sha256-checked; a no-op once installed).
	@# (not `-m frontdoor.v1.assets`: the package imports that module, so runpy would warn)
	@$(PY) -c 'import sys; from frontdoor.v1 import assets; sys.exit(assets.main())'

stack: setup
	$(PY) -m stack up

run: setup
	$(PY) -m stack up --all
	$(PY) -m frontdoor.admin seed-demo

# Style and bug patterns (ruff), types (mypy, strict on ledger/ schemas/ service_layer/; see pyproject.toml). The
# layer rules (import-linter) run as tests/unit/test_architecture.py.
lint: setup
	$(PY) -m ruff check .
	$(PY) -m mypy

test: setup lint
	# Install and start the infrastructure first: a first install (Triton venv, Kokoro assets) takes minutes, more
	# than one test's timeout; the tests' own stack.up() then finds it healthy. Short enrolment budget, hence no
	# style fit (tests/integration/conftest.py says why).
	VOICEKIT_KOKORO_ENROL_BUDGET_S=$${VOICEKIT_KOKORO_ENROL_BUDGET_S:-20} \
	VOICEKIT_KOKORO_STYLE_FIT=$${VOICEKIT_KOKORO_STYLE_FIT:-0} $(PY) -m stack up
	$(PY) -m pytest -v -ra --durations=20

unit: setup
	$(PY) -m pytest -v -m "not integration" tests/unit

status: setup
	$(PY) -m stack status

down: setup
	$(PY) -m stack down
