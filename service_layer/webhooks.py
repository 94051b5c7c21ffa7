"""Webhook use cases: an account registers, lists and deletes the endpoints its completion events are POSTed to,
disables and enables them (the delivery agent disables one whose deliveries keep failing: DisablePolicy), rotates an
endpoint's signing secret, reads each endpoint's delivery log, and asks for one delivery to be made
again. Deliveries themselves: streams/webhooks.py; rules: webhook_logic.py.

A target must resolve to public addresses only (checked here after DNS resolution, and again at every delivery),
unless the operator allows private ones. The signing secret is returned once, by ``register_webhook``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from schemas import events as ev
from schemas import messages as msg

from . import webhook_logic
from .errors import InvalidInput, NotFound, ServiceUnavailable
from .ports import Doc, Ports, WebhookPorts, WebhookStore

MAX_ENDPOINTS = 10          # per account
MAX_DESCRIPTION = 200
DEFAULT_LOG_LIMIT = 20
MAX_LOG_LIMIT = 100
# The event names an endpoint may subscribe to: every public completion event.
EVENT_NAMES: tuple[str, ...] = tuple(t.WIRE_NAME for t in msg.MESSAGE_TYPES if t.TOPIC == ev.TOPIC_COMPLETIONS)


@dataclass(frozen=True)
class RegisteredWebhook:
    record: Doc
    secret: str  # shown once


def _webhooks(ports: Ports) -> WebhookPorts:
    if ports.webhooks is None:
        raise ServiceUnavailable("webhooks are not available in this process")
    return ports.webhooks


def check_target(webhooks: WebhookPorts, url: str) -> str:
    """The URL, once its host resolves to addresses deliveries may reach; InvalidInput otherwise."""
    try:
        target = webhook_logic.parse_url(url)
        webhook_logic.check_addresses(target.host, webhooks.resolve(target.host, target.port),
                                      allow_private=webhooks.allow_private_targets)
    except webhook_logic.TargetRefused as exc:
        raise InvalidInput(str(exc)) from exc
    return url


def check_events(events: list[str] | None) -> list[str]:
    """The subscribed event names ([] or None: all of them)."""
    if not events:
        return list(EVENT_NAMES)
    unknown = sorted(set(events) - set(EVENT_NAMES))
    if unknown:
        raise InvalidInput(f"unknown events {unknown}; choose from {list(EVENT_NAMES)}")
    return [name for name in EVENT_NAMES if name in events]


def register_webhook(ports: Ports, account_id: str, url: str, *, description: str | None = None,
                     events: list[str] | None = None) -> RegisteredWebhook:
    webhooks = _webhooks(ports)
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"description must be at most {MAX_DESCRIPTION} characters")
    subscribed = check_events(events)
    if webhooks.store.count_endpoints(account_id) >= MAX_ENDPOINTS:
        raise InvalidInput(f"at most {MAX_ENDPOINTS} webhooks per account; delete one first")
    check_target(webhooks, url)
    secret = webhook_logic.new_secret()
    record: dict[str, Any] = {"_id": ports.new_id("wh", 24), "accountId": account_id, "url": url,
                              "description": description, "events": subscribed, "secret": secret,
                              "createdAt": ports.clock(), "deletedAt": None}
    webhooks.store.insert_endpoint(record)
    return RegisteredWebhook(record=record, secret=secret)


def list_webhooks(ports: Ports, account_id: str) -> list[Doc]:
    return list(_webhooks(ports).store.list_endpoints(account_id))


def delete_webhook(ports: Ports, account_id: str, webhook_id: str) -> None:
    """Stops deliveries to it (its pending ones are cancelled at once; one in flight after its attempt); its log
    stays readable."""
    if not _webhooks(ports).store.delete_endpoint(account_id, webhook_id, ports.clock()):
        raise NotFound("Webhook not found")


def disable_webhook(ports: Ports, account_id: str, webhook_id: str) -> Doc:
    """Stop deliveries to the webhook without deleting it (its pending ones are cancelled; events meanwhile are
    logged cancelled, to be redelivered once it is enabled again). A disabled one is returned as it is."""
    store = _webhooks(ports).store
    done = store.disable_endpoint(account_id, webhook_id, webhook_logic.DISABLED_BY_REQUEST, ports.clock())
    if done is not None:
        return done
    return _live_endpoint(store, account_id, webhook_id)   # already disabled (by the service or a request)


def enable_webhook(ports: Ports, account_id: str, webhook_id: str) -> Doc:
    """Deliver to the webhook again (its count of failed deliveries starts over); what it missed while disabled
    stays cancelled in its log, each to be redelivered on request. An enabled one is returned as it is (its count
    of failed deliveries kept)."""
    store = _webhooks(ports).store
    done = store.enable_endpoint(account_id, webhook_id)
    if done is not None:
        return done
    return _live_endpoint(store, account_id, webhook_id)


def _live_endpoint(store: WebhookStore, account_id: str, webhook_id: str) -> Doc:
    """The account's webhook, NotFound when it is not the account's or deleted."""
    endpoint = store.find_endpoint(webhook_id, account_id)
    if endpoint is None or endpoint.get("deletedAt") is not None:
        raise NotFound("Webhook not found")
    return endpoint


MAX_PREVIOUS_SECRET_S = 7 * 86400


def rotate_secret(ports: Ports, account_id: str, webhook_id: str, previous_valid_for_s: int) -> RegisteredWebhook:
    """A new signing secret for the webhook (returned once). Deliveries are signed with the previous one too for
    ``previous_valid_for_s`` seconds (0: not at all), so a receiver can switch over without refusing any."""
    if not 0 <= previous_valid_for_s <= MAX_PREVIOUS_SECRET_S:
        raise InvalidInput(f"previous secret validity must be between 0 and {MAX_PREVIOUS_SECRET_S} seconds")
    store = _webhooks(ports).store
    for _ in range(3):  # another rotation in between: rotate from the secret it left
        endpoint = _live_endpoint(store, account_id, webhook_id)
        secret = webhook_logic.new_secret()
        now = ports.clock()
        previous = endpoint["secret"] if previous_valid_for_s else None
        until = now + timedelta(seconds=previous_valid_for_s) if previous_valid_for_s else None
        rotated = store.rotate_secret(account_id, webhook_id, endpoint["secret"], secret, previous, until)
        if rotated is not None:
            return RegisteredWebhook(record=rotated, secret=secret)
    raise ServiceUnavailable("the webhook's secret is being rotated by another request; try again")


def delivery_log(ports: Ports, account_id: str, webhook_id: str, limit: int = DEFAULT_LOG_LIMIT) -> list[Doc]:
    """An endpoint's deliveries, newest first, with every attempt (deleted endpoints' logs too)."""
    if not 1 <= limit <= MAX_LOG_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LOG_LIMIT}")
    store = _webhooks(ports).store
    if store.find_endpoint(webhook_id, account_id) is None:
        raise NotFound("Webhook not found")
    return list(store.list_deliveries(account_id, webhook_id, limit))


def redeliver(ports: Ports, account_id: str, webhook_id: str, delivery_id: str) -> Doc:
    """Send a delivery that has ended (succeeded, failed or cancelled) again: it is pending once more and its next
    attempt is due now (the delivery agent makes it within a second or so). The attempt counts like any other: a
    failure is retried while the delivery has attempts left (WEBHOOK_MAX_ATTEMPTS in all), else it fails again."""
    store = _webhooks(ports).store
    if _live_endpoint(store, account_id, webhook_id).get("disabledAt") is not None:
        raise InvalidInput("the webhook is disabled: enable it first (POST …/webhooks/{id}/enable), then redeliver")
    again = store.redeliver(account_id, webhook_id, delivery_id, ports.clock())
    if again is not None:
        return again
    delivery = store.find_delivery(account_id, webhook_id, delivery_id)
    if delivery is None:
        raise NotFound("Delivery not found")
    if delivery.get("status") == "pending":
        raise InvalidInput("the delivery is still pending: its next attempt is already scheduled (nextRetryAt)")
    raise InvalidInput("the delivery was logged by an older version without its body and cannot be sent again")
