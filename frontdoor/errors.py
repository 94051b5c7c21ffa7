"""Every error leaves the front door as ``{"code", "error"}`` with the seed's codes and statuses."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from adapters.mongo import DatabaseError
from adapters.ratelimit import LimiterError
from service_layer import errors as domain

log = logging.getLogger(__name__)

INVALID_PARAMETERS = "INVALID_PARAMETERS"
NOT_FOUND = "NOT_FOUND"
UNAUTHORIZED = "UNAUTHORIZED"
USAGE_LIMIT_EXCEEDED = "USAGE_LIMIT_EXCEEDED"
RATE_LIMITED = "RATE_LIMITED"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL_ERROR = "INTERNAL_ERROR"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers = headers or {}


def invalid(message: str) -> ApiError:
    return ApiError(400, INVALID_PARAMETERS, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, NOT_FOUND, message)


RETRY_AFTER = {"Retry-After": "5"}


def unavailable(message: str) -> ApiError:
    return ApiError(503, SERVICE_UNAVAILABLE, message, headers=RETRY_AFTER)


def from_domain(err: domain.DomainError) -> ApiError:
    """The documented answer to a service-layer error; the one place domain errors become HTTP."""
    if isinstance(err, domain.InsufficientCredits):
        return ApiError(429, USAGE_LIMIT_EXCEEDED, err.message,
                        {"credits": err.credits, "needCredits": err.need_credits})
    if isinstance(err, domain.NotFound):
        return not_found(err.message)
    if isinstance(err, domain.ServiceUnavailable):
        return unavailable(err.message)
    return invalid(err.message)  # InvalidInput and any other refusal of the request as asked


def _body(code: str, message: str, **extra: Any):
    return jsonify({"code": code, "error": message, **extra})


def _validation_message(messages: Any) -> str:
    """Flatten webargs' nested messages into one readable sentence, e.g. "text: Missing data for required field."""
    if isinstance(messages, dict):
        # webargs nests by location ("json", "query", "form"); drop that level.
        if len(messages) == 1 and next(iter(messages)) in ("json", "query", "form", "files", "headers"):
            return _validation_message(next(iter(messages.values())))
        parts = []
        for field, inner in messages.items():
            text = _validation_message(inner)
            parts.append(text if field == "_schema" else f"{field}: {text}")
        return "; ".join(parts)
    if isinstance(messages, (list, tuple)):
        return " ".join(_validation_message(m) for m in messages)
    return str(messages)


_HTTP_CODES = {400: INVALID_PARAMETERS, 401: UNAUTHORIZED, 404: NOT_FOUND, 405: INVALID_PARAMETERS,
               413: INVALID_PARAMETERS, 415: INVALID_PARAMETERS, 422: INVALID_PARAMETERS, 429: RATE_LIMITED}


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return _body(err.code, err.message, **err.extra), err.status, err.headers

    @app.errorhandler(domain.DomainError)
    def _domain_error(err: domain.DomainError):
        return _api_error(from_domain(err))

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        data = getattr(err, "data", None) or {}
        if status in (400, 422) and "messages" in data:
            return _body(INVALID_PARAMETERS, _validation_message(data["messages"])), 400
        if status == 404:
            return _body(NOT_FOUND, "Resource not found"), 404
        if status == 405:
            allowed = ", ".join(sorted(err.valid_methods or []))
            return (_body(INVALID_PARAMETERS, f"Method {request.method} is not allowed here; allowed: {allowed}"),
                    405, {"Allow": allowed})
        if status == 413:
            return _body(INVALID_PARAMETERS, "Request body too large"), 413
        code = _HTTP_CODES.get(status, INTERNAL_ERROR if status >= 500 else INVALID_PARAMETERS)
        return _body(code, err.description or err.name), status

    @app.errorhandler(DatabaseError)
    def _mongo_down(err: DatabaseError):
        log.warning("MongoDB unavailable: %s", err)
        return _body(SERVICE_UNAVAILABLE, "The database is unavailable; retry shortly"), 503, RETRY_AFTER

    @app.errorhandler(LimiterError)
    def _redis_down(err: LimiterError):
        log.warning("Redis unavailable: %s", err)
        return _body(SERVICE_UNAVAILABLE, "The rate limiter is unavailable; retry shortly"), 503, RETRY_AFTER

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return _body(INTERNAL_ERROR, "Internal server error"), 500
