"""What the webhook agent decides, without Faust, MongoDB or HTTP: which endpoints get an event, the delivery's
log document and first attempt, the signed headers of an attempt, when the attempt after a failure is due, and the
attempt message of a delivery that has come due."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from schemas import events as ev
from schemas import messages as msg
from service_layer import webhook_logic as rules

PUBLIC_TYPES = (msg.SpeechCompleted, msg.SpeechFailed, msg.VoiceReady, msg.VoiceFailed, msg.WebhookDisabled)
# An attempt message on the topic that no worker has taken up within this long is queued again from the log (a
# worker stopped before it queued or took it up, or Faust dropped the message: faust-streaming/faust#596).
QUEUE_LEASE_S = 60.0
# An attempt taken up holds its delivery for the receiver's timeout plus this; a worker killed mid-attempt leaves
# the delivery due again after that.
ATTEMPT_MARGIN_S = 5.0


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
           "eventId": envelope.id, "eventName": envelope.name, "jobId": getattr(completion, "job_id", None),
           "createdAt": now, "updatedAt": now, "nextRetryAt": now, "body": body,
           "queuedUntil": now + timedelta(seconds=QUEUE_LEASE_S)}  # the fan-out queues the first attempt itself
    first = msg.WebhookDeliveryDue(delivery_id=the_id, endpoint_id=endpoint["_id"], account_id=endpoint["accountId"],
                                   attempt=1, due_at=ev.iso_millis(now), body=body)
    return doc, first


def disabled_announcement(endpoint: Mapping[str, Any]) -> tuple[msg.WebhookDisabled, ev.Event]:
    """The webhook.disabled event of an endpoint the service disabled. Its envelope id is the endpoint's and the
    disable's time, so each worker that announces the same disable (after a crash, or two polls) sends the same
    event: consumers and the delivery log deduplicate it."""
    disabled_at = ev.iso_millis(endpoint["disabledAt"])
    since = endpoint.get("failingSince")
    event = msg.WebhookDisabled(account_id=endpoint["accountId"], webhook_id=endpoint["_id"], url=endpoint["url"],
                                reason=endpoint.get("disabledReason") or "", disabled_at=disabled_at,
                                failed_deliveries_in_a_row=int(endpoint.get("failedInARow") or 0),
                                failing_since=ev.iso_millis(since) if since is not None else None)
    return event, event.envelope(id=f"webhook.disabled:{endpoint['_id']}:{disabled_at}", occurred_at=disabled_at)


def due_attempt(delivery: Mapping[str, Any], now: datetime) -> msg.WebhookDeliveryDue:
    """The attempt message of a pending delivery whose next attempt has come due (read from the log)."""
    return msg.WebhookDeliveryDue(delivery_id=delivery["_id"], endpoint_id=delivery["endpointId"],
                                  account_id=delivery["accountId"], attempt=int(delivery.get("attemptCount") or 0) + 1,
                                  due_at=ev.iso_millis(now), body=delivery["body"])


def attempt_lease(timeout_s: float) -> timedelta:
    return timedelta(seconds=timeout_s + ATTEMPT_MARGIN_S)


def put_off_until(slots_free_at: datetime | None, now: datetime) -> datetime:
    """When to try an attempt again whose endpoint had no free slot: once its soonest held slot has surely come
    free (the slot's lease less the margin: the receiver's timeout), not sooner than a second from now."""
    soonest = now if slots_free_at is None else slots_free_at - timedelta(seconds=ATTEMPT_MARGIN_S)
    return max(soonest, now + timedelta(seconds=1))


def signed_headers(secrets: list[str], body: bytes, *, event_id: str, delivery_id: str, attempt: int,
                   timestamp: int) -> dict[str, str]:
    """The attempt's headers; one signature per secret (rules.signing_secrets), comma-separated, newest first."""
    signatures = ",".join(rules.signature(secret, timestamp, body) for secret in secrets)
    return {"Content-Type": "application/json", "User-Agent": "VoiceForge-Webhooks/1",
            rules.TIMESTAMP_HEADER: str(timestamp), rules.SIGNATURE_HEADER: signatures,
            rules.EVENT_ID_HEADER: event_id, rules.DELIVERY_ID_HEADER: delivery_id,
            rules.ATTEMPT_HEADER: str(attempt)}


def attempt_record(attempt: int, at: datetime, status_code: int | None, error: str | None,
                   duration_ms: int) -> dict[str, Any]:
    return {"attempt": attempt, "at": at, "statusCode": status_code, "error": error, "durationMs": duration_ms}


def after_attempt(attempt: int, status_code: int | None, policy: rules.RetryPolicy, rand: float, now: datetime,
                  retry_after_s: float | None = None) -> tuple[str, datetime | None]:
    """(the delivery's status after attempt number ``attempt``, when the next attempt is due: None when there is
    none). ``retry_after_s``: the wait the receiver asked for (rules.retry_after_s), if longer than the schedule's."""
    if rules.succeeded(status_code):
        return "succeeded", None
    delay = policy.delay(attempt, rand)
    if delay is None:
        return "failed", None
    return "pending", now + timedelta(seconds=max(delay, retry_after_s or 0.0))
