"""/v1/webhooks: the same webhooks as /api/v1/webhooks (one set per account), in /v1's snake_case."""
from __future__ import annotations

import re

from flask.views import MethodView

from schemas import api
from schemas import webhooks as wh
from service_layer import webhooks as webhook_cases

from ..auth import authenticate
from ..blueprint import Blueprint
from ..context import ports
from ..webhooks import DESCRIPTION, DISABLE_DOC, ENABLE_DOC, REDELIVER_DOC, ROTATE_DOC, delivery_view, webhook_view
from .common import ERROR_401, SECURITY

blp = Blueprint("v1-webhooks", __name__, url_prefix="/v1/webhooks", description=DESCRIPTION + " (X-API-Key)")


def _snake(view: dict) -> dict:
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): (
        [_snake(v) if isinstance(v, dict) else v for v in value] if isinstance(value, list) else value)
        for key, value in view.items()}


@blp.route("")
class Webhooks(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, wh.V1WebhookListSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    def get(self):
        """List your webhooks (their secrets are never shown again)."""
        return {"items": [_snake(webhook_view(d)) for d in webhook_cases.list_webhooks(ports(), authenticate())]}

    @blp.doc(security=SECURITY)
    @blp.arguments(wh.WebhookCreateRequestSchema, location="json")
    @blp.response(201, wh.V1WebhookCreatedSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema,
                      description="Invalid URL, a refused target address, unknown events, or too many webhooks")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    def post(self, body):
        """Register a webhook. The response holds its signing secret (`secret`): shown only this once."""
        made = webhook_cases.register_webhook(ports(), authenticate(), body["url"],
                                              description=body.get("description"), events=body.get("events"))
        return {**_snake(webhook_view(made.record)), "secret": made.secret}


@blp.route("/<string:webhook_id>")
class Webhook(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, wh.V1DeletedWebhookSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def delete(self, webhook_id):
        """Delete a webhook: nothing more is sent to it (pending retries are cancelled); its log stays readable."""
        webhook_cases.delete_webhook(ports(), authenticate(), webhook_id)
        return {"id": webhook_id, "deleted": True}


@blp.route("/<string:webhook_id>/disable")
class Disabling(MethodView):
    @blp.doc(security=SECURITY, description=DISABLE_DOC.replace("disabledReason", "disabled_reason"))
    @blp.response(200, wh.V1WebhookSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def post(self, webhook_id):
        """Disable a webhook."""
        return _snake(webhook_view(webhook_cases.disable_webhook(ports(), authenticate(), webhook_id)))


@blp.route("/<string:webhook_id>/enable")
class Enabling(MethodView):
    @blp.doc(security=SECURITY, description=ENABLE_DOC)
    @blp.response(200, wh.V1WebhookSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def post(self, webhook_id):
        """Enable a webhook again."""
        return _snake(webhook_view(webhook_cases.enable_webhook(ports(), authenticate(), webhook_id)))


@blp.route("/<string:webhook_id>/rotate-secret")
class SecretRotation(MethodView):
    @blp.doc(security=SECURITY, description=ROTATE_DOC.replace("previousSecretValidFor", "previous_secret_valid_for"))
    @blp.arguments(wh.V1SecretRotateRequestSchema, location="json", required=False)
    @blp.response(200, wh.V1WebhookCreatedSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="previous_secret_valid_for out of range")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def post(self, body, webhook_id):
        """Rotate a webhook's signing secret."""
        made = webhook_cases.rotate_secret(ports(), authenticate(), webhook_id, body["previous_secret_valid_for"])
        return {**_snake(webhook_view(made.record)), "secret": made.secret}


@blp.route("/<string:webhook_id>/deliveries")
class Deliveries(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(wh.DeliveryLogQuerySchema, location="query")
    @blp.response(200, wh.V1DeliveryLogSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid limit")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook of yours")
    def get(self, query, webhook_id):
        """A webhook's delivery log, newest first: each event's attempts, status codes and next retry."""
        docs = webhook_cases.delivery_log(ports(), authenticate(), webhook_id, query["limit"])
        return {"items": [_snake(delivery_view(d)) for d in docs]}


@blp.route("/<string:webhook_id>/deliveries/<string:delivery_id>/redeliver")
class Redelivery(MethodView):
    @blp.doc(security=SECURITY, description=REDELIVER_DOC)
    @blp.response(202, wh.V1DeliverySchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema,
                      description="The delivery is still pending, or the webhook is disabled")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such webhook or delivery of yours")
    def post(self, webhook_id, delivery_id):
        """Send a delivery again."""
        return _snake(delivery_view(webhook_cases.redeliver(ports(), authenticate(), webhook_id, delivery_id)))
