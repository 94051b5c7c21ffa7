"""What the webhook agent decides, without Faust, MongoDB or HTTP: which endpoints get an event, the delivery's
log document and first attempt, the signed headers of an attempt, what to do with an attempt message given the
log, and the attempt that follows a failure."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from schemas import events as ev
from schemas import messages as msg
from service_layer import webhook_logic as rules

PUBLIC_TYPES = (msg.SpeechCompleted, msg.SpeechFailed, msg.VoiceReady, msg.VoiceFailed)


def subscribed(endpoint: Mapping[str, Any], envelope: ev.Event) -> bool:
    """Whether the endpoint wants this event: one of its event names, and not older than the endpoint (a worker
    group reading the topic from its start sends no history to an endpoint made since)."""
    events = endpoint.get("events")
    if events and envelope.name not in events:
        return False
    created = endpoint.get("createdAt")
    return created is None or ev.parse_iso(envelope.occurred_at) >= created


def delivery_id(envelope: ev.Event, endpoint_id: str) -> str:
    return f"{envelope.id}.{endpoint_id}"


def plan_delivery(envelope: ev.Event, completion: msg.Message, body: str, endpoint: Mapping[str, Any],
                  now: datetime) -> tuple[dict[str, Any], msg.WebhookDeliveryDue]:
    """(the delivery log's document, the first attempt: due now) of one event for one endpoint."""
    the_id = delivery_id(envelope, endpoint["_id"])
    doc = {"_id": the_id, "accountId": endpoint["accountId"], "endpointId": endpoint["_id"], "url": endpoint["url"],
           "eventId": envelope.id, "eventName": envelope.name, "jobId": envelope.correlation_id,
           "createdAt": now, "updatedAt": now, "nextRetryAt": now}
    first = msg.WebhookDeliveryDue(delivery_id=the_id, endpoint_id=endpoint["_id"], account_id=endpoint["accountId"],
                                   attempt=1, due_at=ev.iso_millis(now), body=body)
    return doc, first


def signed_headers(secret: str, body: bytes, *, event_id: str, delivery_id: str, attempt: int,
                   timestamp: int) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": "VoiceForge-Webhooks/1",
            rules.TIMESTAMP_HEADER: str(timestamp), rules.SIGNATURE_HEADER: rules.signature(secret, timestamp, body),
            rules.EVENT_ID_HEADER: event_id, rules.DELIVERY_ID_HEADER: delivery_id,
            rules.ATTEMPT_HEADER: str(attempt)}


class Step(Enum):
    ATTEMPT = "attempt"          # make this attempt
    SKIP = "skip"                # done already, cancelled, or an older copy
    SEND_NEXT = "send_next"      # this attempt is recorded but the worker stopped before queueing the next one


def next_step(delivery: Mapping[str, Any] | None, attempt: int) -> Step:
    """What an attempt message means, given the delivery log (redelivered messages are expected after a restart)."""
    if delivery is None or delivery.get("status") != "pending":
        return Step.SKIP
    recorded = int(delivery.get("attemptCount") or 0)
    if recorded == attempt - 1:
        return Step.ATTEMPT
    if recorded == attempt and delivery.get("nextRetryAt") is not None:
        return Step.SEND_NEXT
    return Step.SKIP


def attempt_record(attempt: int, at: datetime, status_code: int | None, error: str | None,
                   duration_ms: int) -> dict[str, Any]:
    return {"attempt": attempt, "at": at, "statusCode": status_code, "error": error, "durationMs": duration_ms}


def after_attempt(due: msg.WebhookDeliveryDue, status_code: int | None, policy: rules.RetryPolicy, rand: float,
                  now: datetime) -> tuple[str, datetime | None]:
    """(the delivery's status after this attempt, when the next attempt is due: None when there is none)."""
    if rules.succeeded(status_code):
        return "succeeded", None
    delay = policy.delay(due.attempt, rand)
    if delay is None:
        return "failed", None
    return "pending", now + timedelta(seconds=delay)


def next_attempt(due: msg.WebhookDeliveryDue, at: datetime) -> msg.WebhookDeliveryDue:
    return msg.WebhookDeliveryDue(delivery_id=due.delivery_id, endpoint_id=due.endpoint_id,
                                  account_id=due.account_id, attempt=due.attempt + 1, due_at=ev.iso_millis(at),
                                  body=due.body)
