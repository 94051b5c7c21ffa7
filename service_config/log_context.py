"""The request id of the work at hand, on the log lines a worker writes while it does that work.

The front door stamps its own lines (frontdoor/request_ids.py, a ``%(request_id)s`` log field); a Faust worker's
log format belongs to Faust, so here the id goes in front of the message instead, for any handler and format.
"""
from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("worker_request_id", default=None)


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Log lines written inside the block (by this task) start with ``[<request id>]``."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def prefix_log_records() -> None:
    """Install, once per process, a log-record factory that prefixes the bound request id to each message."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "prefixes_request_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        request_id = _current.get()
        if request_id and isinstance(record.msg, str):
            record.msg = f"[{request_id}] {record.msg}"
        return record

    factory.prefixes_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
