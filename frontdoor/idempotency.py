"""``Idempotency-Key`` on every POST of both surfaces: a retry with the same key replays the first answer.

The same key with the same request (fingerprint: method, path, account, body) → the first answer's status and body,
nothing charged again. The same key with another request → 422 ``IDEMPOTENCY_KEY_REUSED``. A duplicate that
arrives while the first is still running waits for its answer (up to ``WAIT_FOR_FIRST_S``), else 409
``IDEMPOTENCY_KEY_IN_PROGRESS``. Answers are kept 24 h (``IDEMPOTENCY_TTL_S``) in Redis, per account.
Answers of 5xx and 429 are not kept (nothing was charged; the client retries with the same key and it runs again).

Installed once over the app's view functions (``install``), so a POST added later is covered without a decorator.
It runs after the before-request hooks (rate limit, auth, a blueprint's upload cap) and before the body is parsed
into arguments.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request

from adapters.idempotency import StoredAnswer

from .auth import API_PREFIX, authenticate
from .context import services
from .errors import ApiError, invalid

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
IN_PROGRESS = "IDEMPOTENCY_KEY_IN_PROGRESS"
MAX_KEY_CHARS = 255
WAIT_FOR_FIRST_S = 10.0  # a concurrent duplicate waits this long for the first request's answer
POLL_S = 0.05
KEPT_HEADERS = ("Content-Type", "Location", "Retry-After")


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_CHARS or not all(" " <= ch <= "~" for ch in key):
        raise invalid(f"{HEADER} must be 1-{MAX_KEY_CHARS} printable ASCII characters")
    return key


def _sha256_of(stream: Any) -> str:
    content = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 16), b""):
        content.update(chunk)
    stream.seek(0)  # the handler reads it again
    return content.hexdigest()


def fingerprint(account_id: str) -> str:
    """What makes two requests "the same": method, path, account and the body's content. A JSON body counts by
    its value (key order and spacing do not matter); a form by its fields and files' bytes (not the multipart
    boundary, which a client library draws anew on every send)."""
    digest = hashlib.sha256()
    for part in (request.method, request.path, account_id):
        digest.update(part.encode() + b"\0")
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # A part whose name cannot be parsed (name="\\") has the name None: sort it as "", never a TypeError (500).
        for name, value in sorted(request.form.items(multi=True), key=lambda item: (item[0] or "", item[1])):
            digest.update(f"form:{name}={value}\0".encode())
        for name, upload in sorted(request.files.items(multi=True),
                                   key=lambda item: (item[0] or "", item[1].filename or "")):
            digest.update(f"file:{name}:{upload.filename}:{_sha256_of(upload.stream)}\0".encode())
    else:
        data = request.get_data(cache=True)
        try:
            canonical = json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()
        except ValueError:
            canonical = data
        digest.update(canonical)
    return digest.hexdigest()


def _replay(answer: StoredAnswer) -> Response:
    response = Response(answer.body, status=answer.status)
    for name, value in answer.headers.items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None:
            return view(*args, **kwargs)
        check_key(key)
        account_id = authenticate()
        print_ = fingerprint(account_id)
        store = services().idempotency
        deadline = time.monotonic() + WAIT_FOR_FIRST_S
        while True:
            claim = store.claim(account_id, key, print_)
            if claim.outcome == "claimed":
                g.idempotency = (account_id, key, print_, claim.lock)
                return view(*args, **kwargs)
            if claim.outcome == "replay" and claim.answer is not None:
                return _replay(claim.answer)
            if claim.outcome == "mismatch":
                raise ApiError(422, KEY_REUSED, f"This {HEADER} was used with a different request (method, path "
                                                f"or body); use a new key for a new request")
            if time.monotonic() >= deadline:
                raise ApiError(409, IN_PROGRESS, f"A request with this {HEADER} is still running; retry shortly "
                                                 f"to get its answer", headers={"Retry-After": "2"})
            time.sleep(POLL_S)  # bounded: the first request answers within seconds

    return wrapped


def kept(status: int) -> bool:
    """Which answers a retry replays: all but 5xx and 429 (nothing was done; the retry should run again)."""
    return status < 500 and status != 429


def install(app: Flask) -> None:
    """Wrap every POST view of both API surfaces; call after all blueprints are registered."""
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()) and rule.rule.startswith(API_PREFIX):
            view = app.view_functions[rule.endpoint]
            if not getattr(view, "_idempotent", False):
                wrapped = _idempotent(view)
                wrapped._idempotent = True  # type: ignore[attr-defined]
                app.view_functions[rule.endpoint] = wrapped

    @app.after_request
    def _remember(response: Response) -> Response:
        claimed = g.pop("idempotency", None)
        if claimed is None:
            return response
        account_id, key, print_, lock = claimed
        store = services().idempotency
        try:
            if kept(response.status_code) and not response.direct_passthrough:
                headers = {name: response.headers[name] for name in KEPT_HEADERS if name in response.headers}
                store.complete(account_id, key, print_,
                               StoredAnswer(response.status_code, response.get_data(), headers))
            else:
                store.release(account_id, key, lock)
        except Exception:  # noqa: BLE001 - the answer itself stands; a retry then runs again once the lock expires
            log.warning("could not record the answer of %s %s", HEADER, key, exc_info=True)
        return response

    @app.teardown_request
    def _unlock(_exc: BaseException | None) -> None:
        # A request that ended without an answer (e.g. the client went away mid-stream) frees its key for a retry.
        claimed = g.pop("idempotency", None)
        if claimed is not None:
            account_id, key, _print, lock = claimed
            try:
                services().idempotency.release(account_id, key, lock)
            except Exception:  # noqa: BLE001 - the lock expires by itself
                pass


def document(api: Any) -> None:
    """Name the header on every POST operation of the OpenAPI document."""
    api.spec.components.parameter("IdempotencyKey", "header", {
        "name": HEADER, "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_CHARS},
        "description": "Any unique string (e.g. a UUID) to make retries safe: a retry with the same key and the "
                       "same request replays the first answer (header Idempotent-Replayed: true) and charges "
                       "nothing more; the same key with another request is 422 IDEMPOTENCY_KEY_REUSED; while the "
                       "first is still running, 409 IDEMPOTENCY_KEY_IN_PROGRESS. Kept 24 h per account."})
    for path, operations in api.spec.to_dict()["paths"].items():
        if path.startswith(API_PREFIX) and "post" in operations:
            operations["post"].setdefault("parameters", []).append({"$ref": "#/components/parameters/IdempotencyKey"})


def is_idempotent(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, "_idempotent", False))
