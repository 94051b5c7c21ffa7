"""The one place domain errors become HTTP answers: each maps to the documented status, code and fields."""
from __future__ import annotations

import pytest
from flask import Flask

from frontdoor import errors
from service_layer import errors as domain


@pytest.mark.parametrize("err, status, code", [
    (domain.InvalidInput("bad"), 400, "INVALID_PARAMETERS"),
    (domain.NotFound("gone"), 404, "NOT_FOUND"),
    (domain.ServiceUnavailable("down"), 503, "SERVICE_UNAVAILABLE"),
    (domain.InsufficientCredits(3, 20), 429, "USAGE_LIMIT_EXCEEDED"),
])
def test_domain_errors_map_to_documented_answers(err, status, code):
    mapped = errors.from_domain(err)
    assert (mapped.status, mapped.code, mapped.message) == (status, code, err.message)


def test_a_raised_domain_error_is_answered_in_the_error_shape():
    app = Flask(__name__)
    errors.register(app)

    @app.get("/refused")
    def refused():
        raise domain.InsufficientCredits(credits=3, need_credits=20)

    @app.get("/down")
    def down():
        raise domain.ServiceUnavailable("The request queue is unavailable")

    client = app.test_client()
    answer = client.get("/refused")
    assert answer.status_code == 429
    assert answer.get_json() == {"code": "USAGE_LIMIT_EXCEEDED", "error": "Insufficient credits", "credits": 3,
                                 "needCredits": 20}
    answer = client.get("/down")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    assert answer.get_json() == {"code": "SERVICE_UNAVAILABLE", "error": "The request queue is unavailable"}
