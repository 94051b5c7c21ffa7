"""/api/v1/webhooks: register, list and delete the endpoints your completion events are POSTed to, rotate their
secrets, read each one's delivery log and send a delivery again. Thin: the use cases are service_layer/webhooks.py;
signing and retries: docs/webhooks.md."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.views import MethodView

from schemas import api
from schemas import events as ev
from schemas import webhooks as wh
from service_layer import webhooks as webhook_cases

from .auth import authenticate
from .blueprint import Blueprint
from .context import ports

DESCRIPTION = ("Webhooks: your completion events (speech.completed, speech.failed, voice.ready, voice.failed; "
               "webhook.disabled when the service disabled one of your webhooks for failing) "
               "POSTed to your URL, signed with HMAC-SHA256 (the secret is shown once, at registration), retried "
               "with exponential backoff and jitter until a 2xx answer (a 429 or 503 with Retry-After is not retried "
               "sooner, up to an hour); every attempt is in the delivery log.")
blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks", description=DESCRIPTION)


def _iso(value) -> str | None:
    return ev.iso_millis(value) if value is not None else None


def webhook_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "url": doc["url"], "description": doc.get("description"),
            "events": list(doc.get("events") or []), "createdAt": _iso(doc.get("createdAt")),
            "previousSecretExpiresAt": _previous_secret_until(doc), "enabled": doc.get("disabledAt") is None,
            "disabledAt": _iso(doc.get("disabledAt")), "disabledReason": doc.get("disabledReason"),
            "failedDeliveriesInARow": int(doc.get("failedInARow") or 0)}


def _previous_secret_until(doc: Mapping[str, Any]) -> str | None:
    until = doc.get("previousSecretExpiresAt")
    return _iso(until) if doc.get("previousSecret") and until is not None and until > ev.utc_now() else None


def delivery_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    """One delivery of the log (camelCase; /v1 renames the keys)."""
    return {"id": doc["_id"], "eventId": doc.get("eventId"), "eventName": doc.get("eventName"),
            "jobId": doc.get("jobId"), "status": doc.get("status"), "attemptCount": int(doc.get("attemptCount") or 0),
            "nextRetryAt": _iso(doc.get("nextRetryAt")) if doc.get("status") == "pending" else None,
            "attempts": [{"attempt": a["attempt"], "at": _iso(a.get("at")), "statusCode": a.get("statusCode"),
                          "error": a.get("error"), "durationMs": a.get("durationMs")}
                         for a in doc.get("attempts") or []],
            "createdAt": _iso(doc.get("createdAt")), "updatedAt": _iso(doc.get("updatedAt"))}


@blp.route("")
class Webhooks(MethodView):
    @blp.response(200, wh.WebhookListResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self):
        """List your webhooks (their secrets are never shown again)."""
        docs = webhook_cases.list_webhooks(ports(), authenticate())
        return {"success": True, "webhooks": [webhook_view(d) for d in docs]}

    @blp.arguments(wh.WebhookCreateRequestSchema, location="json")
    @blp.response(201, wh.WebhookCreatedResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema,
                      description="Invalid URL, a refused target address, unknown events, or too many webhooks")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def post(self, body):
        """Register a webhook. The response holds its signing secret: it is shown only this once."""
        made = webhook_cases.register_webhook(ports(), authenticate(), body["url"],
                                              description=body.get("description"), events=body.get("events"))
        return {"success": True, "secret": made.secret, "webhook": webhook_view(made.record)}


@blp.route("/<string:webhook_id>")
class Webhook(MethodView):
    @blp.response(200, api.SuccessSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def delete(self, webhook_id):
        """Delete a webhook: nothing more is sent to it (pending retries are cancelled); its log stays readable."""
        webhook_cases.delete_webhook(ports(), authenticate(), webhook_id)
        return {"success": True}


DISABLE_DOC = ("Stop deliveries to the webhook without deleting it: its pending deliveries are cancelled and events "
               "meanwhile are logged cancelled. The service disables a webhook itself when its deliveries keep "
               "failing (WEBHOOK_DISABLE_AFTER_FAILURES in a row, the first at least WEBHOOK_DISABLE_AFTER_S ago; "
               "disabledReason says so).")
ENABLE_DOC = ("Deliver to a disabled webhook again; its count of failed deliveries starts over. What it missed while "
              "disabled stays cancelled in its delivery log: redeliver each one you want.")


@blp.route("/<string:webhook_id>/disable")
class Disabling(MethodView):
    @blp.response(200, wh.WebhookResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    @blp.doc(description=DISABLE_DOC)
    def post(self, webhook_id):
        """Disable a webhook."""
        return {"success": True, "webhook": webhook_view(webhook_cases.disable_webhook(ports(), authenticate(),
                                                                                      webhook_id))}


@blp.route("/<string:webhook_id>/enable")
class Enabling(MethodView):
    @blp.response(200, wh.WebhookResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    @blp.doc(description=ENABLE_DOC)
    def post(self, webhook_id):
        """Enable a webhook again."""
        return {"success": True, "webhook": webhook_view(webhook_cases.enable_webhook(ports(), authenticate(),
                                                                                     webhook_id))}


ROTATE_DOC = ("Replace the webhook's signing secret; the new one is shown only in this response. For "
              "previousSecretValidFor seconds (default 24 h) every delivery also carries a signature with the old "
              "secret, so a receiver that still checks the old one accepts them while you deploy the new one.")


@blp.route("/<string:webhook_id>/rotate-secret")
class SecretRotation(MethodView):
    @blp.arguments(wh.SecretRotateRequestSchema, location="json", required=False)
    @blp.response(200, wh.WebhookCreatedResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="previousSecretValidFor out of range")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    @blp.doc(description=ROTATE_DOC)
    def post(self, body, webhook_id):
        """Rotate a webhook's signing secret."""
        made = webhook_cases.rotate_secret(ports(), authenticate(), webhook_id, body["previousSecretValidFor"])
        return {"success": True, "secret": made.secret, "webhook": webhook_view(made.record)}


@blp.route("/<string:webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.arguments(wh.DeliveryLogQuerySchema, location="query")
    @blp.response(200, wh.DeliveryLogResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid limit")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def get(self, query, webhook_id):
        """A webhook's delivery log, newest first: each event's attempts, status codes and next retry."""
        docs = webhook_cases.delivery_log(ports(), authenticate(), webhook_id, query["limit"])
        return {"success": True, "deliveries": [delivery_view(d) for d in docs]}


REDELIVER_DOC = ("Send one delivery again — one that succeeded, or failed after its last attempt (say, once your "
                 "receiver is fixed). It is pending again and its next attempt is due now; that attempt counts like "
                 "any other (retried while the delivery has attempts left). A pending delivery is a 400: its next "
                 "attempt is already scheduled; so is one of a disabled webhook: enable it first.")


@blp.route("/<string:webhook_id>/deliveries/<string:delivery_id>/redeliver")
class Redelivery(MethodView):
    @blp.response(202, wh.RedeliveryResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema,
                      description="The delivery is still pending, or the webhook is disabled")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook or delivery of yours")
    @blp.doc(description=REDELIVER_DOC)
    def post(self, webhook_id, delivery_id):
        """Send a delivery again."""
        doc = webhook_cases.redeliver(ports(), authenticate(), webhook_id, delivery_id)
        return {"success": True, "delivery": delivery_view(doc)}
