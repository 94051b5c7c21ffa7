# syntax=docker/dockerfile:1
#
# VoiceForge application image: the front door (`python -m frontdoor`), the stream workers
# (`python -m streams worker`) and the operator CLI (`python -m frontdoor.admin ...`) all run from it.
# Build from the repository root (docker-compose.yml does this):
#
#     docker build -f docker/app.Dockerfile -t voiceforge-app:local .
#
# Two stages: `build` turns the project and its pinned dependencies (pyproject.toml) into wheels, with a
# compiler at hand in case a dependency has no wheel for the platform; the runtime stage installs only those
# wheels, with no compiler and no network access, and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim

############################################################################### build
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential npm \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so editing the code does not rebuild them.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(deps))" \
        > /tmp/requirements.txt \
 && pip wheel --wheel-dir /wheels -r /tmp/requirements.txt

# Then the project itself (the build context is filtered by .dockerignore).
COPY . .
# The API reference page's Scalar bundle (npm pack, pinned, sha256-checked) ships inside the wheel.
RUN python frontdoor/v1/assets.py \
 && pip wheel --no-deps --wheel-dir /wheels .

############################################################################### runtime
FROM ${PYTHON_IMAGE}

# FRONTDOOR_HOST: gunicorn inside `python -m frontdoor` binds it; the code's default (127.0.0.1) is unreachable
# from outside the container.
# VOICE_STACK_DIR: `frontdoor.admin seed-demo` keeps the demo API key in $VOICE_STACK_DIR/demo-api-key. The
# code's default (<repo>/.stack) resolves into site-packages once the project is installed, which is neither
# writable by the app user nor persistent; docker-compose.yml mounts a named volume here for the init job.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    FRONTDOOR_HOST=0.0.0.0 \
    VOICE_STACK_DIR=/var/lib/voiceforge/state

RUN groupadd --system --gid 10001 voiceforge \
 && useradd --system --uid 10001 --gid voiceforge --home-dir /var/lib/voiceforge --no-create-home \
        --shell /usr/sbin/nologin voiceforge \
 && mkdir -p /var/lib/voiceforge/state \
 && chown -R voiceforge:voiceforge /var/lib/voiceforge

RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels voiceforge

# Fail the build, not the first request, when a package the entry points import is not in the installed
# distribution (pyproject.toml's [tool.setuptools.packages.find] decides what `pip install .` ships).
RUN python - <<'PY'
import importlib.util, sys
needed = ["frontdoor", "streams", "ledger", "adapters", "schemas", "service_config", "inference_client"]
missing = [name for name in needed if importlib.util.find_spec(name) is None]
if missing:
    sys.exit(f"not installed by `pip install .`: {', '.join(missing)} "
             "(add them to [tool.setuptools.packages.find] include in pyproject.toml)")
PY

COPY docker/healthcheck.py /usr/local/bin/voiceforge-healthcheck
RUN chmod 0755 /usr/local/bin/voiceforge-healthcheck

# Faust writes its data directory (<app id>-data) into the working directory: keep it writable.
WORKDIR /var/lib/voiceforge
USER voiceforge:voiceforge

EXPOSE 5000

# The front door by default; docker-compose.yml sets the command for the workers and the init job.
CMD ["python", "-m", "frontdoor"]
