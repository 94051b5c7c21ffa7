"""Pure parts of issue 10's request plumbing: request-id rules and log filter, idempotency fingerprints and which
answers are kept, and the waiting loop of service_layer.jobs.wait_until_ended (with fake job changes)."""
from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
from flask import Flask, jsonify

from frontdoor import idempotency, request_ids
from service_layer import jobs


@pytest.mark.parametrize("presented", ["abc", "A.b_c-1", "x" * 128])
def test_a_well_formed_id_is_kept(presented):
    assert request_ids.accepted(presented) == presented


@pytest.mark.parametrize("presented", [None, "", "x" * 129, "a b", "a/b", "é", "a\nb"])
def test_anything_else_gets_a_new_id(presented):
    made = request_ids.accepted(presented)
    assert made != presented and request_ids.WELL_FORMED.fullmatch(made)


def _app() -> Flask:
    app = Flask(__name__)
    request_ids.register(app)

    @app.get("/ok")
    def ok():
        logging.getLogger("test.plumbing").warning("inside")
        return jsonify({"fine": True})

    @app.get("/bad")
    def bad():
        return jsonify({"code": "NOT_FOUND", "error": "nope"}), 404

    return app


def test_log_records_name_the_request_and_error_bodies_carry_it():
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    handler.addFilter(request_ids.RequestIdFilter())
    logger = logging.getLogger("test.plumbing")
    logger.addHandler(handler)
    try:
        client = _app().test_client()
        ok = client.get("/ok", headers={"X-Request-Id": "trace-1"})
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    assert ok.headers["X-Request-Id"] == "trace-1" and ok.get_json() == {"fine": True}
    assert [(r.getMessage(), r.request_id) for r in records] == [("inside", "trace-1"),  # type: ignore[attr-defined]
                                                                 ("outside", request_ids.NO_REQUEST)]
    bad = client.get("/bad")
    assert bad.get_json() == {"code": "NOT_FOUND", "error": "nope", "requestId": bad.headers["X-Request-Id"]}


def test_json_bodies_are_the_same_request_whatever_their_layout():
    app = Flask(__name__)
    prints = []
    for body in ('{"a": 1, "b": [1, 2]}', '{"b":[1,2],"a":1}'):
        with app.test_request_context("/api/v1/tts", method="POST", data=body, content_type="application/json"):
            prints.append(idempotency.fingerprint("acct"))
    with app.test_request_context("/api/v1/tts", method="POST", data='{"a": 2}', content_type="application/json"):
        other = idempotency.fingerprint("acct")
    with app.test_request_context("/api/v1/tts", method="POST", data='{"a": 1, "b": [1, 2]}',
                                  content_type="application/json"):
        other_account = idempotency.fingerprint("acct2")
    assert prints[0] == prints[1] and other != prints[0] and other_account != prints[0]


@pytest.mark.parametrize("status,kept", [(200, True), (202, True), (400, True), (404, True), (422, True),
                                         (429, False), (500, False), (503, False)])
def test_which_answers_a_retry_replays(status, kept):
    assert idempotency.kept(status) is kept


class FakeChanges:
    """Job changes whose waits advance a fake clock; ``woken`` = how many waits end with a change."""

    def __init__(self, clock: list[float], woken: int, slots: bool = True):
        self.clock, self.woken, self.slots, self.waits = clock, woken, slots, 0

    @contextmanager
    def subscribe(self, job_id):
        yield self if self.slots else None

    def wait(self, timeout_s: float) -> bool:
        self.waits += 1
        if self.woken:
            self.woken -= 1
            self.clock[0] += 0.1
            return True
        self.clock[0] += timeout_s
        return False


class FakePorts:
    def __init__(self, changes):
        self.job_changes = changes


def _wait(states, changes, clock, wait_s):
    reads = iter(states)
    return jobs.wait_until_ended(FakePorts(changes), "j1", wait_s, lambda: next(reads),  # type: ignore[arg-type]
                                 lambda s: s in jobs.ENDED, monotonic=lambda: clock[0])


def test_an_ended_job_or_no_wait_answers_at_once():
    clock = [0.0]
    changes = FakeChanges(clock, woken=0)
    assert _wait(["COMPLETED"], changes, clock, 20) == "COMPLETED"
    assert _wait(["PROCESSING"], changes, clock, 0) == "PROCESSING"
    assert changes.waits == 0 and clock[0] == 0


def test_a_change_wakes_the_wait_and_the_job_is_read_again():
    clock = [0.0]
    changes = FakeChanges(clock, woken=2)
    assert _wait(["PROCESSING", "PROCESSING", "PROCESSING", "FAILED"], changes, clock, 20) == "FAILED"
    assert changes.waits == 2 and clock[0] < 1


def test_at_the_deadline_the_current_state_is_the_answer():
    clock = [0.0]
    changes = FakeChanges(clock, woken=0)
    assert _wait(["PROCESSING"] * 10, changes, clock, 12) == "PROCESSING"
    assert clock[0] == 12 and changes.waits == 3  # 5 + 5 + 2: the fallback re-read every RECHECK_S


def test_without_a_free_waiting_slot_the_read_answers_at_once():
    clock = [0.0]
    changes = FakeChanges(clock, woken=0, slots=False)
    assert _wait(["PROCESSING", "COMPLETED"], changes, clock, 20) == "PROCESSING"
    assert changes.waits == 0


def test_every_post_of_both_surfaces_takes_an_idempotency_key():
    from frontdoor import create_app

    app = create_app(connect=False)
    posts = [rule for rule in app.url_map.iter_rules()
             if "POST" in (rule.methods or ()) and rule.rule.startswith(("/api/v1/", "/v1/"))]
    assert len(posts) >= 5
    assert all(idempotency.is_idempotent(app.view_functions[rule.endpoint]) for rule in posts), \
        [rule.rule for rule in posts if not idempotency.is_idempotent(app.view_functions[rule.endpoint])]
