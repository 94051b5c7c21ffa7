"""X-Request-Id: one id per request, on the response, in every error body and every log line of the request.

A client's own ``X-Request-Id`` is kept when well formed (1-128 characters of ``[A-Za-z0-9._-]``), else one is
made. The id rides along with the job (``requestId`` on the job view and in the job's Kafka messages), so a
response, its log lines and the job's events can be found together.
"""
from __future__ import annotations

import contextvars
import logging
import re
import uuid

from flask import Flask, Response, current_app, g, request

HEADER = "X-Request-Id"
WELL_FORMED = re.compile(r"[A-Za-z0-9._-]{1,128}")
NO_REQUEST = "-"  # what a log line outside any request shows

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def current() -> str | None:
    """The id of the request being served on this thread, or None outside a request."""
    return _current.get()


def new_id() -> str:
    return "req_" + uuid.uuid4().hex


def accepted(presented: str | None) -> str:
    """The client's id when well formed, else a new one."""
    if presented and WELL_FORMED.fullmatch(presented):
        return presented
    return new_id()


class RequestIdFilter(logging.Filter):
    """Puts ``record.request_id`` on every log record (``-`` outside a request), for ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or NO_REQUEST
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def install_logging(level: str) -> None:
    """Structured-enough logs: every line names its request. The filter sits on the root handlers, so records of
    any logger (ours, werkzeug's, pymongo's) get the field."""
    logging.basicConfig(level=level, format=LOG_FORMAT)  # a no-op where the host (pytest) set logging up
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


def _with_request_id(response: Response, request_id: str) -> None:
    """Add ``requestId`` to a JSON error body (``{"code", "error", ...}``), whoever wrote it."""
    if response.status_code < 400 or not response.is_json or response.direct_passthrough:
        return
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "code" in body and "error" in body and "requestId" not in body:
        body["requestId"] = request_id
        response.set_data(current_app.json.dumps(body) + "\n")


def register(app: Flask) -> None:
    """Register before every other hook, so rate-limit and auth refusals carry the id too."""

    @app.before_request
    def _assign() -> None:
        g.request_id = accepted(request.headers.get(HEADER))
        g.request_id_token = _current.set(g.request_id)

    @app.after_request
    def _stamp(response: Response) -> Response:
        request_id = g.get("request_id") or accepted(request.headers.get(HEADER))
        response.headers[HEADER] = request_id
        _with_request_id(response, request_id)
        return response

    @app.teardown_request
    def _forget(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            _current.reset(token)
