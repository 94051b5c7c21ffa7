"""Local stack manager: Kafka, MongoDB, Redis, S3 (Swift) and Triton on 127.0.0.1, no Docker.

    python -m stack up [SERVICE...] [--all]   install (first time) and start; healthy ones are skipped
    python -m stack down [SERVICE...]         stop what the stack started
    python -m stack status | logs SERVICE | env

Python API (for tests): up(), down(), is_healthy(name), status().
"""
from __future__ import annotations

from .manager import down, is_healthy, status, up
from .process import StackError

__all__ = ["StackError", "down", "is_healthy", "status", "up"]
