"""The webhook agent's decisions (streams/webhook_delivery_logic.py) and the webhook use cases
(service_layer/webhooks.py) with an in-memory store and resolver."""
from datetime import datetime, timedelta, timezone

import pytest

from schemas import events as ev
from schemas import messages as msg
from service_layer import webhook_logic as rules
from service_layer import webhooks as cases
from service_layer.errors import InvalidInput, NotFound
from service_layer.ports import Ports, WebhookPorts
from streams import webhook_delivery_logic as logic

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
ENDPOINT = {"_id": "wh1", "accountId": "acct", "url": "https://hooks.example.com/x", "events": ["speech.completed"],
            "secret": "whsec_s"}
COMPLETED = msg.SpeechCompleted(job_id="cl1", speech_id="cl1", account_id="acct", api=None, voice_id="sys_slt",
                                credits_charged=2, timings=None, request_id=None, format="mp3", audio_key="k",
                                duration=1.0, mime_type="audio/mpeg")


def test_an_endpoint_gets_the_events_it_subscribed_to_from_its_creation_on():
    completed = COMPLETED.envelope(occurred_at="2026-01-01T00:00:01.000Z")
    ready = msg.VoiceReady(job_id="v1", account_id="acct", api=None, voice_id="v1", credits_charged=1000,
                           timings=None, request_id=None, audio_key="k", duration=1.0).envelope(
                               occurred_at="2026-01-01T00:00:01.000Z")
    assert logic.subscribed(ENDPOINT, completed) and not logic.subscribed(ENDPOINT, ready)
    assert logic.subscribed({**ENDPOINT, "events": []}, ready)
    made_later = {**ENDPOINT, "createdAt": NOW + timedelta(seconds=5)}
    assert logic.subscribed({**ENDPOINT, "createdAt": NOW}, completed) and not logic.subscribed(made_later, completed)


def test_a_delivery_is_planned_once_per_event_and_endpoint_and_due_now():
    envelope = COMPLETED.envelope(id="e1")
    doc, first = logic.plan_delivery(envelope, COMPLETED, envelope.encode().decode(), ENDPOINT, NOW)
    assert doc["_id"] == first.delivery_id == "e1.wh1" and doc["jobId"] == "cl1"
    assert (first.attempt, first.due_at, first.key()) == (1, "2026-01-01T00:00:00.000Z", "e1.wh1")
    assert msg.decode(ev.decode(first.body.encode())) == COMPLETED  # the body is the event, as on the topic


def test_headers_carry_a_signature_the_receiver_can_check():
    body = b'{"id":"e1"}'
    headers = logic.signed_headers(["whsec_s"], body, event_id="e1", delivery_id="e1.wh1", attempt=3,
                                   timestamp=1700000000)
    assert rules.verify("whsec_s", headers[rules.TIMESTAMP_HEADER], headers[rules.SIGNATURE_HEADER], body,
                        now=1700000001)
    assert headers[rules.EVENT_ID_HEADER] == "e1" and headers[rules.ATTEMPT_HEADER] == "3"


def test_after_a_rotation_deliveries_carry_both_signatures_until_the_previous_secret_expires():
    rotated = {**ENDPOINT, "secret": "whsec_new", "previousSecret": "whsec_s",
               "previousSecretExpiresAt": NOW + timedelta(hours=24)}
    assert rules.signing_secrets(rotated, NOW) == ["whsec_new", "whsec_s"]
    assert rules.signing_secrets(rotated, NOW + timedelta(hours=24)) == ["whsec_new"]  # expired
    assert rules.signing_secrets({**rotated, "previousSecret": None}, NOW) == ["whsec_new"]  # rotated with 0 s
    assert rules.signing_secrets(ENDPOINT, NOW) == ["whsec_s"]  # never rotated
    body = b'{"id":"e1"}'
    headers = logic.signed_headers(rules.signing_secrets(rotated, NOW), body, event_id="e1", delivery_id="e1.wh1",
                                   attempt=1, timestamp=1700000000)
    for secret in ("whsec_new", "whsec_s"):  # a receiver on either secret accepts it
        assert rules.verify(secret, headers[rules.TIMESTAMP_HEADER], headers[rules.SIGNATURE_HEADER], body,
                            now=1700000001)
    assert not rules.verify("whsec_other", headers[rules.TIMESTAMP_HEADER], headers[rules.SIGNATURE_HEADER], body,
                            now=1700000001)


def test_a_delivery_that_comes_due_is_queued_from_the_log_as_its_next_attempt():
    envelope = COMPLETED.envelope(id="e1")
    doc, first = logic.plan_delivery(envelope, COMPLETED, envelope.encode().decode(), ENDPOINT, NOW)
    assert doc["queuedUntil"] == NOW + timedelta(seconds=logic.QUEUE_LEASE_S)  # the fan-out queues attempt 1
    later = NOW + timedelta(minutes=5)
    assert logic.due_attempt(doc, later) == msg.WebhookDeliveryDue(
        delivery_id="e1.wh1", endpoint_id="wh1", account_id="acct", attempt=1, due_at="2026-01-01T00:05:00.000Z",
        body=first.body)
    assert logic.due_attempt({**doc, "attemptCount": 3}, later).attempt == 4


def test_a_failed_attempt_schedules_the_next_until_none_is_left():
    policy = rules.RetryPolicy(base_s=10, cap_s=100, max_attempts=3)
    assert logic.after_attempt(1, 204, policy, 0.5, NOW) == ("succeeded", None)
    assert logic.after_attempt(1, 503, policy, 0.0, NOW) == ("pending", NOW + timedelta(seconds=5))
    assert logic.after_attempt(1, None, policy, 0.0, NOW)[0] == "pending"  # no answer at all
    assert logic.after_attempt(3, 500, policy, 0.0, NOW) == ("failed", None)


def test_a_receiver_that_asks_for_time_is_not_asked_again_sooner():
    policy = rules.RetryPolicy(base_s=10, cap_s=100, max_attempts=3)
    assert logic.after_attempt(1, 503, policy, 0.0, NOW, 600.0) == ("pending", NOW + timedelta(seconds=600))
    assert logic.after_attempt(1, 503, policy, 0.0, NOW, 1.0) == ("pending", NOW + timedelta(seconds=5))  # schedule
    assert logic.after_attempt(3, 429, policy, 0.0, NOW, 600.0) == ("failed", None)  # no attempt left all the same


def test_an_endpoint_without_a_free_slot_is_tried_again_once_its_soonest_attempt_has_timed_out():
    margin = timedelta(seconds=logic.ATTEMPT_MARGIN_S)
    assert logic.put_off_until(NOW + timedelta(seconds=12) + margin, NOW) == NOW + timedelta(seconds=12)
    assert logic.put_off_until(NOW + margin, NOW) == NOW + timedelta(seconds=1)  # never sooner than a second
    assert logic.put_off_until(None, NOW) == NOW + timedelta(seconds=1)          # slots freed meanwhile


@pytest.mark.parametrize("status,header,wait", [
    (503, "120", 120.0),
    (429, " 7 ", 7.0),
    (503, "Thu, 01 Jan 2026 00:10:00 GMT", 600.0),
    (503, "Wed, 31 Dec 2025 23:00:00 GMT", 0.0),          # a date gone by: no wait beyond the schedule's
    (503, "999999", rules.MAX_RETRY_AFTER_S),              # bounded
    (503, "-5", None), (503, "soon", None), (503, "", None), (503, None, None),
    (500, "120", None), (200, "120", None), (None, "120", None),  # only a 429 or 503 asks for time
])
def test_retry_after_is_read_as_seconds_or_an_http_date(status, header, wait):
    assert rules.retry_after_s(status, header, NOW) == wait


# --- use cases ------------------------------------------------------------------------------------------------------

class MemoryWebhooks:
    def __init__(self):
        self.endpoints: dict[str, dict] = {}
        self.deliveries: list[dict] = []

    def insert_endpoint(self, doc):
        self.endpoints[doc["_id"]] = dict(doc)

    def list_endpoints(self, account_id):
        return [d for d in self.endpoints.values() if d["accountId"] == account_id and d["deletedAt"] is None]

    def count_endpoints(self, account_id):
        return len(self.list_endpoints(account_id))

    def find_endpoint(self, endpoint_id, account_id=None):
        doc = self.endpoints.get(endpoint_id)
        return doc if doc and account_id in (None, doc["accountId"]) else None

    def delete_endpoint(self, account_id, endpoint_id, now):
        doc = self.find_endpoint(endpoint_id, account_id)
        if doc is None or doc["deletedAt"] is not None:
            return False
        doc["deletedAt"] = now
        return True

    def rotate_secret(self, account_id, endpoint_id, current, secret, previous, previous_until):
        doc = self.find_endpoint(endpoint_id, account_id)
        if doc is None or doc["deletedAt"] is not None or doc["secret"] != current:
            return None
        doc.update(secret=secret, previousSecret=previous, previousSecretExpiresAt=previous_until)
        return doc

    def list_deliveries(self, account_id, endpoint_id, limit):
        return [d for d in self.deliveries if d["endpointId"] == endpoint_id][:limit]

    def find_delivery(self, account_id, endpoint_id, delivery_id):
        return next((d for d in self.deliveries if (d["_id"], d["accountId"], d["endpointId"]) ==
                     (delivery_id, account_id, endpoint_id)), None)

    def redeliver(self, account_id, endpoint_id, delivery_id, now):
        doc = self.find_delivery(account_id, endpoint_id, delivery_id)
        if doc is None or doc["status"] == "pending" or "body" not in doc:
            return None
        doc.update(status="pending", nextRetryAt=now)
        return doc


DNS = {"hooks.example.com": ["93.184.216.34"], "rebind.example.com": ["93.184.216.34", "10.0.0.7"],
       "localhost": ["127.0.0.1"]}


def _ports(allow_private=False) -> Ports:
    counter = iter(range(1000))
    return Ports(store=None, publisher=None, blobs=None, clock=lambda: NOW,
                 new_id=lambda prefix, n: f"{prefix}_{next(counter)}",
                 webhooks=WebhookPorts(store=MemoryWebhooks(), resolve=lambda host, port: DNS.get(host, []),
                                       allow_private_targets=allow_private))


def test_register_shows_the_secret_once_and_lists_without_it():
    ports = _ports()
    made = cases.register_webhook(ports, "acct", "https://hooks.example.com/x", events=["voice.ready"])
    assert made.secret.startswith("whsec_") and made.record["events"] == ["voice.ready"]
    listed = cases.list_webhooks(ports, "acct")
    assert [d["_id"] for d in listed] == [made.record["_id"]] and cases.list_webhooks(ports, "other") == []
    assert cases.register_webhook(ports, "acct", "https://hooks.example.com/y").record["events"] == \
        list(cases.EVENT_NAMES)  # default: every event


@pytest.mark.parametrize("url", ["http://localhost/x", "https://rebind.example.com/x", "https://nowhere.example/",
                                 "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/", "ftp://x/"])
def test_refused_targets_are_a_400_after_dns_resolution(url):
    ports = _ports()
    with pytest.raises(InvalidInput):
        cases.register_webhook(ports, "acct", url)
    assert cases.list_webhooks(ports, "acct") == []


def test_the_operator_may_allow_private_targets():
    assert cases.register_webhook(_ports(allow_private=True), "acct", "http://localhost:8123/hook").record["url"]


def test_delete_is_for_one_s_own_webhooks_and_the_log_stays_readable():
    ports = _ports()
    made = cases.register_webhook(ports, "acct", "https://hooks.example.com/x")
    with pytest.raises(NotFound):
        cases.delete_webhook(ports, "other", made.record["_id"])
    cases.delete_webhook(ports, "acct", made.record["_id"])
    assert cases.list_webhooks(ports, "acct") == [] and cases.delivery_log(ports, "acct", made.record["_id"]) == []
    with pytest.raises(NotFound):
        cases.delete_webhook(ports, "acct", made.record["_id"])
    with pytest.raises(NotFound):
        cases.delivery_log(ports, "other", made.record["_id"])


def test_rotating_a_secret_returns_the_new_one_once_and_keeps_the_old_one_for_its_grace_period():
    ports = _ports()
    made = cases.register_webhook(ports, "acct", "https://hooks.example.com/x")
    hook = made.record["_id"]
    rotated = cases.rotate_secret(ports, "acct", hook, 3600)
    assert rotated.secret.startswith("whsec_") and rotated.secret != made.secret
    assert rotated.record["secret"] == rotated.secret and rotated.record["previousSecret"] == made.secret
    assert rotated.record["previousSecretExpiresAt"] == NOW + timedelta(hours=1)
    again = cases.rotate_secret(ports, "acct", hook, 0)  # the old one ends at once
    assert again.record["previousSecret"] is None and again.record["previousSecretExpiresAt"] is None
    assert rules.signing_secrets(again.record, NOW) == [again.secret]
    for account, webhook_id, grace in (("other", hook, 60), ("acct", "wh_nope", 60)):
        with pytest.raises(NotFound):
            cases.rotate_secret(ports, account, webhook_id, grace)
    for grace in (-1, cases.MAX_PREVIOUS_SECRET_S + 1):
        with pytest.raises(InvalidInput):
            cases.rotate_secret(ports, "acct", hook, grace)
    cases.delete_webhook(ports, "acct", hook)
    with pytest.raises(NotFound):
        cases.rotate_secret(ports, "acct", hook, 60)


def test_the_api_s_bound_on_the_previous_secret_is_the_use_case_s():
    from schemas import webhooks as api_schemas

    assert api_schemas.MAX_PREVIOUS_SECRET_S == cases.MAX_PREVIOUS_SECRET_S


def test_a_delivery_that_has_ended_can_be_sent_again_by_its_own_account_only():
    ports = _ports()
    made = cases.register_webhook(ports, "acct", "https://hooks.example.com/x")
    hook = made.record["_id"]
    envelope = COMPLETED.envelope(id="e1")
    doc, _first = logic.plan_delivery(envelope, COMPLETED, "{}", made.record, NOW)
    store = ports.webhooks.store
    store.deliveries.append({**doc, "status": "failed", "attemptCount": 8, "nextRetryAt": None})
    again = cases.redeliver(ports, "acct", hook, doc["_id"])
    assert again["status"] == "pending" and again["nextRetryAt"] == NOW
    with pytest.raises(InvalidInput, match="still pending"):  # its next attempt is scheduled already
        cases.redeliver(ports, "acct", hook, doc["_id"])
    for account, webhook_id, delivery_id in (("other", hook, doc["_id"]), ("acct", hook, "e9.wh9"),
                                             ("acct", "wh_nope", doc["_id"])):
        with pytest.raises(NotFound):
            cases.redeliver(ports, account, webhook_id, delivery_id)
    old = {**doc, "_id": "e0." + hook, "status": "failed"}
    del old["body"]
    store.deliveries.append(old)
    with pytest.raises(InvalidInput, match="older version"):
        cases.redeliver(ports, "acct", hook, old["_id"])
    cases.delete_webhook(ports, "acct", hook)
    with pytest.raises(NotFound):  # nothing is sent to a deleted webhook
        cases.redeliver(ports, "acct", hook, doc["_id"])


def test_bounds_unknown_events_and_the_endpoint_limit():
    ports = _ports()
    with pytest.raises(InvalidInput):
        cases.register_webhook(ports, "acct", "https://hooks.example.com/x", events=["job.exploded"])
    with pytest.raises(InvalidInput):
        cases.register_webhook(ports, "acct", "https://hooks.example.com/x", description="d" * 201)
    for _ in range(cases.MAX_ENDPOINTS):
        cases.register_webhook(ports, "acct", "https://hooks.example.com/x")
    with pytest.raises(InvalidInput):
        cases.register_webhook(ports, "acct", "https://hooks.example.com/x")
    made = cases.list_webhooks(ports, "acct")[0]
    with pytest.raises(InvalidInput):
        cases.delivery_log(ports, "acct", made["_id"], limit=0)


def test_a_disable_is_announced_as_one_event_whoever_announces_it():
    disabled = {**ENDPOINT, "disabledAt": NOW + timedelta(milliseconds=1500), "disabledReason": "20 deliveries failed",
                "failedInARow": 20, "failingSince": NOW - timedelta(days=1)}
    event, envelope = logic.disabled_announcement(disabled)
    assert (event.account_id, event.webhook_id, event.url, event.reason) == (
        "acct", "wh1", "https://hooks.example.com/x", "20 deliveries failed")
    assert (event.disabled_at, event.failing_since, event.failed_deliveries_in_a_row) == (
        "2026-01-01T00:00:01.500Z", "2025-12-31T00:00:00.000Z", 20)
    assert (envelope.name, envelope.id, envelope.correlation_id, envelope.occurred_at, event.key()) == (
        "webhook.disabled", "webhook.disabled:wh1:2026-01-01T00:00:01.500Z", "wh1", "2026-01-01T00:00:01.500Z", "acct")
    assert logic.disabled_announcement(disabled)[1] == envelope   # a second worker's is the same event
    assert msg.read(envelope.encode()) == (envelope, event)
    # it is delivered as a completion event is: to endpoints that subscribe to it, with no job
    watcher = {**ENDPOINT, "_id": "wh2", "events": ["webhook.disabled"]}
    assert logic.subscribed(watcher, envelope) and not logic.subscribed(ENDPOINT, envelope)
    doc, _ = logic.plan_delivery(envelope, event, envelope.encode().decode(), watcher, NOW)
    assert doc["eventName"] == "webhook.disabled" and doc["jobId"] is None
    later = logic.disabled_announcement({**disabled, "disabledAt": NOW + timedelta(days=3)})[1]
    assert later.id != envelope.id   # disabled again after an enable: a new event


def test_the_event_names_are_the_public_events():
    from schemas import webhooks as api_schemas

    assert cases.EVENT_NAMES == api_schemas.EVENT_NAMES == tuple(
        t.WIRE_NAME for t in logic.PUBLIC_TYPES)
