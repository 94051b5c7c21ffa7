"""Webhook deliveries: every public completion event (SpeechCompleted, SpeechFailed, VoiceReady, VoiceFailed) is
POSTed, signed, to each endpoint of its account that subscribes to it, and retried with backoff until a 2xx answer
or the last attempt. The queue is Kafka (messages.WebhookDeliveryDue on the webhookdeliveries topic), the log is
MongoDB (adapters/webhook_store.py): a worker restart loses no delivery, and the log's guard keeps a redelivered
attempt message from recording an attempt twice. Decisions: webhook_delivery_logic.py; HTTP: adapters/webhook_http.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time

from adapters import webhook_http, webhook_store
from schemas import events as ev
from schemas import messages as msg
from service_layer.webhook_logic import RetryPolicy

from . import clients
from .app import app, completions_topic, dead_letter, read_record, settings, topic
from .webhook_delivery_logic import (
    PUBLIC_TYPES,
    Step,
    after_attempt,
    attempt_record,
    next_attempt,
    next_step,
    plan_delivery,
    signed_headers,
    subscribed,
)

log = logging.getLogger(__name__)

deliveries_topic = topic(ev.TOPIC_WEBHOOKS)
POLICY = RetryPolicy(base_s=settings.webhook_retry_base_s, cap_s=settings.webhook_retry_cap_s,
                     max_attempts=settings.webhook_max_attempts)
# Attempts waiting for their time each hold one actor; enough actors that one slow receiver stalls no other.
DELIVERY_ACTORS = 16


async def _queue(due: msg.WebhookDeliveryDue) -> None:
    pending = await deliveries_topic.send(key=due.key().encode(), value=due.envelope().encode())
    await pending  # acknowledged by the broker before the log moves on


@app.task
async def _prepare_webhook_indexes() -> None:
    await asyncio.to_thread(webhook_store.ensure_indexes, clients.get().db)


@app.agent(completions_topic)
async def fan_out(stream):
    async for event in stream.events():
        await fan_out_record(event.key, event.value)


async def fan_out_record(key: bytes | None, value: bytes | None, *, dead_letters: bool = True) -> None:
    """One delivery per subscribed endpoint of a completion event's account (idempotent: streams/catch_up.py may
    hand over the same record again). ``dead_letters``: False where Faust's own delivery dead-letters it."""
    read = await read_record(key, value, "webhooks", dead_letters=dead_letters)
    if read is None:
        return
    envelope, completion = read
    if not isinstance(completion, PUBLIC_TYPES):
        return
    for tries_left in range(5, -1, -1):  # MongoDB may be briefly away; the agent must not die of it
        try:
            await _fan_out_one(envelope, completion, value.decode("utf-8"))
            return
        except webhook_store.DatabaseError as exc:
            if not tries_left:
                if dead_letters:
                    await dead_letter(key, value, f"webhooks: {exc!r}")
                return
            await asyncio.sleep(1.0)


async def _fan_out_one(envelope: ev.Event, completion: msg.Message, body: str) -> None:
    db = clients.get().db
    endpoints = await asyncio.to_thread(webhook_store.list_endpoints, db, completion.account_id)
    for endpoint in endpoints:
        if not subscribed(endpoint, envelope):
            continue
        doc, first = plan_delivery(envelope, completion, body, endpoint, ev.utc_now())  # body: as on the topic
        await asyncio.to_thread(webhook_store.create_delivery, db, doc)
        await _queue(first)  # again for a redelivered event: the log's guard makes the copy a no-op


async def attempt_delivery(due: msg.WebhookDeliveryDue) -> None:
    db = clients.get().db
    delivery = await asyncio.to_thread(webhook_store.find_delivery, db, due.delivery_id)
    step = next_step(delivery, due.attempt)
    if step is Step.SEND_NEXT:
        await _queue(next_attempt(due, delivery["nextRetryAt"]))
        return
    if step is Step.SKIP:
        return
    endpoint = await asyncio.to_thread(webhook_store.find_endpoint, db, due.endpoint_id)
    if endpoint is None or endpoint.get("deletedAt") is not None:
        await asyncio.to_thread(webhook_store.cancel_delivery, db, due.delivery_id, "webhook deleted", ev.utc_now())
        return
    body = due.body.encode("utf-8")
    headers = signed_headers(endpoint["secret"], body, event_id=delivery["eventId"], delivery_id=due.delivery_id,
                             attempt=due.attempt, timestamp=int(time.time()))
    outcome = await webhook_http.post(endpoint["url"], body, headers,
                                      allow_private=settings.webhook_allow_private_targets,
                                      timeout_s=settings.webhook_timeout_s)
    now = ev.utc_now()
    status, next_at = after_attempt(due, outcome.status_code, POLICY, random.random(), now)
    record = attempt_record(due.attempt, now, outcome.status_code, outcome.error, outcome.duration_ms)
    won = await asyncio.to_thread(webhook_store.record_attempt, db, due.delivery_id, record, status, next_at, now)
    log.info("webhook %s attempt %d -> %s (%s)%s", due.delivery_id, due.attempt,
             outcome.status_code or outcome.error, status, "" if won else " [already recorded]")
    if won and next_at is not None:
        await _queue(next_attempt(due, next_at))


@app.agent(deliveries_topic, concurrency=DELIVERY_ACTORS)
async def deliver(stream):
    async for event in stream.events():
        try:
            _envelope, due = msg.read_as(event.value, msg.WebhookDeliveryDue)
        except ev.EventDecodeError as exc:
            await dead_letter(event.key, event.value, f"webhook deliveries: {exc}")
            continue
        wait_s = (ev.parse_iso(due.due_at) - ev.utc_now()).total_seconds()
        if wait_s > 0:  # its offset is not committed while it waits: a restart hands it out again
            await asyncio.sleep(wait_s)
        try:
            await attempt_delivery(due)
        except webhook_store.DatabaseError as exc:  # MongoDB down: try the same attempt again later
            log.warning("webhook %s attempt %d not made (%r); queued again", due.delivery_id, due.attempt, exc)
            await asyncio.sleep(1.0)
            await _queue(due)
        except Exception as exc:  # a bad record must not stop every other delivery
            log.exception("webhook %s attempt %d failed", due.delivery_id, due.attempt)
            await dead_letter(event.key, event.value, f"webhook deliveries: {exc!r}")
