# syntax=docker/dockerfile:1
#
# NVIDIA Triton Inference Server with what the VoiceForge models (Python backend) need at run time.
# Build from the repository root (docker-compose.yml does this):
#
#     docker build -f docker/triton.Dockerfile -t voiceforge-triton:local .
#
# The model repository is not baked in: docker-compose.yml mounts ./triton_models read-only at /models.
#
# 24.10-py3 is Triton 2.51, the version the local stack (`python -m stack`, nvidia-pytriton 0.7.0) runs.
# Override with --build-arg TRITON_IMAGE=... only together with a check of the models on that version.

ARG TRITON_IMAGE=nvcr.io/nvidia/tritonserver:24.10-py3
FROM ${TRITON_IMAGE}

# Debian/Ubuntu packages the models call as subprocesses (flite: the system voices; espeak-ng: the
# multi-language voices) and curl for the container healthcheck (GET /v2/health/ready).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        flite \
        espeak-ng \
        curl \
        ca-certificates \
        python3-pip \
 && rm -rf /var/lib/apt/lists/*

# Python packages for the models, installed into the Python the backend stub is built for: the image's
# python3 (Ubuntu 22.04's Python 3.10 in 24.10; the local stack runs the models on Python 3.11), so every
# pin in triton_models/requirements.txt must have a wheel for that Python.
# numpy<2: with numpy 2, Triton 2.51's Python backend returns empty outputs without an error.
# triton_models/requirements.txt is optional, as it is for the local stack; the second source below only
# makes the COPY succeed when that file does not exist (a wildcard that matches nothing is not an error as
# long as one source matches). PIP_BREAK_SYSTEM_PACKAGES lets pip write to the system Python on images
# whose Ubuntu marks it externally managed; older pips ignore the variable.
ENV PIP_BREAK_SYSTEM_PACKAGES=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# requirements-nodeps.txt: packages wanted for their files only (resemblyzer's GE2E weights), installed without
# their dependencies (torch, librosa), which the models never import.
COPY docker/triton.Dockerfile triton_models/requirements.tx[t] triton_models/requirements-nodeps.tx[t] /tmp/triton-build/
RUN set -eu; \
    if [ -f /tmp/triton-build/requirements.txt ]; then \
        python3 -m pip install "numpy<2" -r /tmp/triton-build/requirements.txt; \
    else \
        python3 -m pip install "numpy<2"; \
    fi; \
    if [ -f /tmp/triton-build/requirements-nodeps.txt ]; then \
        python3 -m pip install --no-deps -r /tmp/triton-build/requirements-nodeps.txt; \
    fi; \
    python3 --version; \
    python3 -c "import numpy; assert int(numpy.__version__.split('.')[0]) < 2, numpy.__version__"; \
    rm -rf /tmp/triton-build

EXPOSE 8000 8001 8002

# Same flags as the local stack; docker-compose.yml repeats them explicitly.
CMD ["tritonserver", "--model-repository=/models", "--model-control-mode=none", "--exit-on-error=true"]
