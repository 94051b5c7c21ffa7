"""Webhook deliveries: every public completion event (SpeechCompleted, SpeechFailed, VoiceReady, VoiceFailed, and
WebhookDisabled, which this agent publishes when it disables a webhook whose deliveries keep failing) is POSTed,
signed, to each endpoint of its account that subscribes to it, and retried with backoff until a 2xx answer or the
last attempt. The delivery log in MongoDB (adapters/webhook_store.py) is also the retry schedule: an
attempt that is due is queued on Kafka (messages.WebhookDeliveryDue on the webhookdeliveries topic) — the first by
the fan-out at once, each retry by a poll of the log when it comes due — and made by one worker, which takes it up
in the log first. No worker waits for a retry's time, so receivers that fail or ask for time (Retry-After) hold up
no other delivery; a worker restart loses none (the log queues again what was queued or taken up and never made),
and a redelivered or duplicated attempt message is a no-op. Decisions: webhook_delivery_logic.py; HTTP:
adapters/webhook_http.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

from adapters import webhook_http, webhook_store
from schemas import events as ev
from schemas import messages as msg
from service_layer.webhook_logic import DisablePolicy, RetryPolicy, disabled_reason, retry_after_s, signing_secrets

from . import clients
from .app import app, completions_topic, dead_letter, read_record, settings, topic
from .webhook_delivery_logic import (
    PUBLIC_TYPES,
    QUEUE_LEASE_S,
    after_attempt,
    attempt_lease,
    attempt_record,
    disabled_announcement,
    due_attempt,
    plan_delivery,
    put_off_until,
    signed_headers,
    subscribed,
)

log = logging.getLogger(__name__)

deliveries_topic = topic(ev.TOPIC_WEBHOOKS)
POLICY = RetryPolicy(base_s=settings.webhook_retry_base_s, cap_s=settings.webhook_retry_cap_s,
                     max_attempts=settings.webhook_max_attempts)
DISABLE = DisablePolicy(after_failures=settings.webhook_disable_after_failures,
                        after_s=settings.webhook_disable_after_s)
# Attempts in flight each hold one actor (for at most WEBHOOK_TIMEOUT_S); one endpoint holds at most
# WEBHOOK_ENDPOINT_CONCURRENCY (3) of them, an account (10 endpoints at most) 30: receivers that hang stall no other.
DELIVERY_ACTORS = 64
# How many due retries one poll of the log queues at most (a backlog drains over the next polls).
QUEUE_PER_POLL = 200
# A worker whose clock is behind the one that queued an attempt may still take it up (several hosts).
CLOCK_TOLERANCE_S = 2.0
# Put-off attempts one actor makes in a row in the slot it holds, before it lets go (the rest: the log queues them).
CHAIN_LIMIT = 100
# A disable not announced this long after it was made is announced by a poll (its worker stopped in between).
ANNOUNCE_GRACE_S = 30.0
ANNOUNCE_POLL_S = 10.0


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
        stopped = _stopped(endpoint)
        if stopped is not None:  # logged, so it can be redelivered once the endpoint is enabled
            await asyncio.to_thread(webhook_store.create_delivery, db, doc, stopped)
            continue
        await asyncio.to_thread(webhook_store.create_delivery, db, doc)
        await _queue(first)  # again for a redelivered event: the log's guard makes the copy a no-op


def _stopped(endpoint: Any) -> str | None:
    """Why nothing is sent to this endpoint — deleted (or gone), disabled — or None."""
    if endpoint is None or endpoint.get("deletedAt") is not None:
        return webhook_store.WEBHOOK_DELETED
    return webhook_store.WEBHOOK_DISABLED if endpoint.get("disabledAt") is not None else None


async def attempt_delivery(due: msg.WebhookDeliveryDue) -> None:
    """Make one attempt, if it is this worker's to make, in one of its webhook's slots; record it, with when the
    next one is due. Without a free slot the attempt is put off, and whoever frees a slot makes it (no actor waits
    for a slot: a webhook whose receiver hangs holds only its own slots' actors)."""
    db = clients.get().db
    now = ev.utc_now()
    holder = f"{due.delivery_id}#{due.attempt}"
    slot = await _take_slot(db, due.endpoint_id, holder, now)
    first: msg.WebhookDeliveryDue | None = due
    if slot is None:
        free_at = await asyncio.to_thread(webhook_store.endpoint_slots_free_at, db, due.endpoint_id)
        later = put_off_until(free_at, now)
        if not await asyncio.to_thread(webhook_store.defer_attempt, db, due.delivery_id, due.attempt, later, now):
            return  # made or in flight already
        log.info("webhook %s attempt %d put off (the webhook's %d slots are taken); made when one frees, at the "
                 "latest queued again at %s", due.delivery_id, due.attempt, settings.webhook_endpoint_concurrency,
                 ev.iso_millis(later))
        # A slot freed between the two looks: its holder may not have seen this put off, so look again.
        slot, first = await _take_slot(db, due.endpoint_id, holder, ev.utc_now()), None
    while slot is not None:
        try:
            await _attempts_in_slot(db, due.endpoint_id, slot, holder, first)
        finally:
            await asyncio.to_thread(webhook_store.release_endpoint_slot, db, slot, holder)
        first = None
        # Put off after this slot's last look and before its release: take a slot again for it, unless another
        # holder has one (it will look).
        if not await asyncio.to_thread(webhook_store.has_deferred, db, due.endpoint_id, ev.utc_now()):
            return
        slot = await _take_slot(db, due.endpoint_id, holder, ev.utc_now())


async def _take_slot(db: Any, endpoint_id: str, holder: str, now: datetime) -> str | None:
    return await asyncio.to_thread(webhook_store.take_endpoint_slot, db, endpoint_id, holder, now,
                                   now + attempt_lease(settings.webhook_timeout_s),
                                   settings.webhook_endpoint_concurrency)


async def _attempts_in_slot(db: Any, endpoint_id: str, slot: str, holder: str,
                            first: msg.WebhookDeliveryDue | None) -> None:
    """``first`` (if any: the slot was just taken for it), then the webhook's put-off attempts, longest due first,
    while there are (at most CHAIN_LIMIT: the rest are queued again from the log)."""
    due = first
    for _ in range(CHAIN_LIMIT + 1):
        now = ev.utc_now()
        lease_until = now + attempt_lease(settings.webhook_timeout_s)
        if due is None:
            waiting = await asyncio.to_thread(webhook_store.claim_deferred, db, endpoint_id, now)
            if waiting is None:
                return
            due = due_attempt(waiting, now)
            await asyncio.to_thread(webhook_store.renew_endpoint_slot, db, slot, holder, lease_until)
        await _attempt_in_slot(db, due, now, lease_until)
        due = None


async def _attempt_in_slot(db: Any, due: msg.WebhookDeliveryDue, now: datetime, lease_until: datetime) -> None:
    delivery = await asyncio.to_thread(webhook_store.claim_attempt, db, due.delivery_id, due.attempt, now,
                                       lease_until, CLOCK_TOLERANCE_S)
    if delivery is None:  # made already, in flight elsewhere, not due yet (the log queues it then), or ended
        await asyncio.to_thread(webhook_store.keep_body, db, due.delivery_id, due.body)  # an older version's log
        return
    endpoint = await asyncio.to_thread(webhook_store.find_endpoint, db, due.endpoint_id)
    stopped = _stopped(endpoint)
    if stopped is not None:
        await asyncio.to_thread(webhook_store.cancel_delivery, db, due.delivery_id, stopped, ev.utc_now())
        return
    body = due.body.encode("utf-8")
    headers = signed_headers(signing_secrets(endpoint, now), body, event_id=delivery["eventId"],
                             delivery_id=due.delivery_id, attempt=due.attempt, timestamp=int(time.time()))
    outcome = await webhook_http.post(endpoint["url"], body, headers,
                                      allow_private=settings.webhook_allow_private_targets,
                                      timeout_s=settings.webhook_timeout_s)
    now = ev.utc_now()
    asked_s = retry_after_s(outcome.status_code, outcome.retry_after, now)
    status, next_at = after_attempt(due.attempt, outcome.status_code, POLICY, random.random(), now, asked_s)
    record = attempt_record(due.attempt, now, outcome.status_code, outcome.error, outcome.duration_ms)
    won = await asyncio.to_thread(webhook_store.record_attempt, db, due.delivery_id, record, status, next_at, now)
    log.info("webhook %s attempt %d -> %s (%s)%s%s", due.delivery_id, due.attempt,
             outcome.status_code or outcome.error, status,
             f", next due {ev.iso_millis(next_at)}" if next_at else "", "" if won else " [already recorded]")
    if won and status in (webhook_store.SUCCEEDED, webhook_store.FAILED):
        await _count_outcome(db, due.endpoint_id, status == webhook_store.SUCCEEDED, now)


async def _count_outcome(db: Any, endpoint_id: str, succeeded: bool, now: datetime) -> None:
    """A delivery has ended: count it in its endpoint's run of failures, and disable an endpoint that has failed
    long enough (DisablePolicy): its pending deliveries are cancelled, later events logged cancelled."""
    endpoint = await asyncio.to_thread(webhook_store.note_outcome, db, endpoint_id, succeeded, now)
    if endpoint is None or not DISABLE.disables(int(endpoint.get("failedInARow") or 0), endpoint.get("failingSince"),
                                                now):
        return
    reason = disabled_reason(int(endpoint["failedInARow"]), endpoint["failingSince"])
    disabled = await asyncio.to_thread(webhook_store.disable_endpoint, db, endpoint_id, reason, now, announce=True)
    if disabled is not None:
        log.warning("webhook %s of account %s disabled: %s", endpoint_id, endpoint.get("accountId"), reason)
        await _announce(db, disabled)


async def _announce(db: Any, endpoint: Any) -> None:
    """Publish the webhook.disabled event of an endpoint the service disabled, on the completions topic (the fan-out
    POSTs it to the account's webhooks that subscribe to it), then mark it announced. A failure leaves it owed:
    :func:`announce_owed_disables` sends it later."""
    event, envelope = disabled_announcement(endpoint)
    try:
        pending = await completions_topic.send(key=event.key().encode(), value=envelope.encode())
        await pending  # on the topic before it counts as announced
        await asyncio.to_thread(webhook_store.mark_announced, db, endpoint["_id"], endpoint["disabledAt"])
    except Exception as exc:  # Kafka or MongoDB away: the owed announcement is sent by a later poll
        log.warning("webhook %s: its disable not announced yet (%r); a later poll sends it", endpoint["_id"], exc)
        return
    log.info("webhook %s of account %s: disable announced (%s)", endpoint["_id"], endpoint["accountId"], envelope.id)


async def deliver_record(key: bytes | None, value: bytes | None, *, dead_letters: bool = True) -> None:
    """One attempt message, from Faust or read back by streams/catch_up.py (``dead_letters`` False: Faust's own
    delivery dead-letters a bad one)."""
    try:
        _envelope, due = msg.read_as(value, msg.WebhookDeliveryDue)
    except ev.EventDecodeError as exc:
        if dead_letters:
            await dead_letter(key, value, f"webhook deliveries: {exc}")
        return
    try:
        await attempt_delivery(due)
    except webhook_store.DatabaseError as exc:  # MongoDB away: the same attempt again in a second
        log.warning("webhook %s attempt %d not made (%r); queued again", due.delivery_id, due.attempt, exc)
        await asyncio.sleep(1.0)
        await _queue(due)
    except Exception as exc:  # a bad record must not stop every other delivery
        log.exception("webhook %s attempt %d failed", due.delivery_id, due.attempt)
        if dead_letters:
            await dead_letter(key, value, f"webhook deliveries: {exc!r}")


@app.agent(deliveries_topic, concurrency=DELIVERY_ACTORS)
async def deliver(stream):
    async for event in stream.events():
        await deliver_record(event.key, event.value)


@app.timer(interval=ANNOUNCE_POLL_S)
async def announce_owed_disables() -> None:
    """Announce the disables that the worker which made them did not (it stopped in between): those older than
    ANNOUNCE_GRACE_S. Every worker polls; two that send the same one send the same event id."""
    db = clients.get().db
    try:
        owed = await asyncio.to_thread(webhook_store.unannounced_disables, db,
                                       ev.utc_now() - timedelta(seconds=ANNOUNCE_GRACE_S), QUEUE_PER_POLL)
    except webhook_store.DatabaseError as exc:
        log.warning("owed webhook.disabled events not polled (%r); next poll in %g s", exc, ANNOUNCE_POLL_S)
        return
    for endpoint in owed:
        await _announce(db, endpoint)


@app.timer(interval=1.0)
async def queue_due_retries() -> None:
    """Queue the attempts the log says are due and nobody has queued (retries; attempts a stopped worker never
    made). Every worker polls; each due delivery is claimed by one."""
    now = ev.utc_now()
    try:
        due = await asyncio.to_thread(webhook_store.claim_due, clients.get().db, now,
                                      now + timedelta(seconds=QUEUE_LEASE_S), QUEUE_PER_POLL)
    except webhook_store.DatabaseError as exc:
        log.warning("webhook retries not polled (%r); next poll in 1 s", exc)
        return
    for delivery in due:
        try:
            await _queue(due_attempt(delivery, now))
        except Exception as exc:  # Kafka away: the claim runs out and a later poll queues it again
            log.warning("webhook %s: attempt not queued (%r); queued again within %g s", delivery["_id"], exc,
                        QUEUE_LEASE_S)
            return
