"""Request and response bodies of the webhook endpoints: /api/v1/webhooks (camelCase, with "success") and
/v1/webhooks (snake_case, as the rest of /v1). Signing, retries and address rules: docs/webhooks.md."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

EVENT_NAMES = ("speech.completed", "speech.failed", "voice.ready", "voice.failed",  # checked against messages.py
               "webhook.disabled")
_URL_DOC = ("Where events are POSTed: an http(s) URL whose host resolves to public addresses only (loopback, "
            "private, link-local and metadata addresses are refused unless the operator allows them).")
_EVENTS_DOC = "The events to send (default: all of them)."
_ENABLED_DOC = ("false: nothing is sent to it — disabled on request, or by the service after its deliveries kept "
                "failing (20 in a row over at least 24 h by default); events meanwhile are logged cancelled. "
                "POST …/enable to deliver again, then redeliver what it missed.")
_REASON_DOC = "Why it is disabled (null while enabled)"
_FAILED_DOC = "Deliveries that failed after their last attempt since the last one that succeeded"
_SECRET_DOC = ("The signing secret: shown only in this response. Each delivery carries X-VoiceForge-Timestamp and "
               "X-VoiceForge-Signature = \"v1=\" + hex HMAC-SHA256(secret, timestamp + \".\" + body); refuse "
               "a timestamp more than 300 s from your clock.")


class WebhookCreateRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    url = fields.String(required=True, validate=validate.Length(min=1, max=2048),
                        metadata={"description": _URL_DOC, "example": "https://hooks.example.com/voiceforge"})
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_NAMES)), load_default=None, allow_none=True,
                         metadata={"description": _EVENTS_DOC, "example": ["speech.completed", "speech.failed"]})


_GRACE_DOC = ("How long, in seconds, deliveries are still signed with the previous secret too (its signature "
              "after the new one's, comma-separated, in X-VoiceForge-Signature), so receivers can switch over: "
              "0-604800, default 86400 (24 h); 0 ends the previous secret at once.")
MAX_PREVIOUS_SECRET_S = 604800
DEFAULT_PREVIOUS_SECRET_S = 86400


def _previous_secret_valid_for() -> fields.Integer:
    bounds = validate.Range(min=0, max=MAX_PREVIOUS_SECRET_S)
    return fields.Integer(load_default=DEFAULT_PREVIOUS_SECRET_S, validate=bounds, metadata={"description": _GRACE_DOC})


class SecretRotateRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    previousSecretValidFor = _previous_secret_valid_for()


class V1SecretRotateRequestSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    previous_secret_valid_for = _previous_secret_valid_for()


class DeliveryLogQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100),
                           metadata={"description": "Newest first, at most this many (1-100)"})


# --- /api/v1 (camelCase) ---------------------------------------------------------------------------------------------

class WebhookSchema(Schema):
    id = fields.String(metadata={"example": "wh_0123456789abcdef01234567"})
    url = fields.String()
    description = fields.String(allow_none=True)
    events = fields.List(fields.String())
    createdAt = fields.String(metadata={"example": "2024-01-01T00:00:00.000Z"})
    previousSecretExpiresAt = fields.String(allow_none=True, metadata={
        "description": "After a secret rotation: until when deliveries are signed with the previous secret too"})
    enabled = fields.Boolean(metadata={"description": _ENABLED_DOC})
    disabledAt = fields.String(allow_none=True, metadata={"example": None})
    disabledReason = fields.String(allow_none=True, metadata={"description": _REASON_DOC})
    failedDeliveriesInARow = fields.Integer(metadata={"description": _FAILED_DOC})


class WebhookCreatedResponseSchema(Schema):
    success = fields.Boolean()
    secret = fields.String(metadata={"description": _SECRET_DOC, "example": "whsec_..."})
    webhook = fields.Nested(WebhookSchema)


class WebhookResponseSchema(Schema):
    success = fields.Boolean()
    webhook = fields.Nested(WebhookSchema)


class WebhookListResponseSchema(Schema):
    success = fields.Boolean()
    webhooks = fields.List(fields.Nested(WebhookSchema))


class DeliveryAttemptSchema(Schema):
    attempt = fields.Integer()
    at = fields.String()
    statusCode = fields.Integer(allow_none=True, metadata={"description": "null: no HTTP answer (see error)"})
    error = fields.String(allow_none=True)
    durationMs = fields.Integer()


class DeliverySchema(Schema):
    id = fields.String()
    eventId = fields.String(metadata={"description": "The event envelope's id (X-VoiceForge-Event-Id)"})
    eventName = fields.String()
    jobId = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "pending, succeeded, failed (no attempt left) or cancelled "
                                                    "(webhook deleted or disabled)"})
    attemptCount = fields.Integer()
    nextRetryAt = fields.String(allow_none=True, metadata={"description": "When the next attempt is due"})
    attempts = fields.List(fields.Nested(DeliveryAttemptSchema))
    createdAt = fields.String()
    updatedAt = fields.String()


class DeliveryLogResponseSchema(Schema):
    success = fields.Boolean()
    deliveries = fields.List(fields.Nested(DeliverySchema))


class RedeliveryResponseSchema(Schema):
    success = fields.Boolean()
    delivery = fields.Nested(DeliverySchema, metadata={"description": "pending again, its next attempt due now"})


# --- /v1 (snake_case) ------------------------------------------------------------------------------------------------

class V1WebhookSchema(Schema):
    id = fields.String()
    url = fields.String()
    description = fields.String(allow_none=True)
    events = fields.List(fields.String())
    created_at = fields.String()
    previous_secret_expires_at = fields.String(allow_none=True)
    enabled = fields.Boolean(metadata={"description": _ENABLED_DOC})
    disabled_at = fields.String(allow_none=True)
    disabled_reason = fields.String(allow_none=True, metadata={"description": _REASON_DOC})
    failed_deliveries_in_a_row = fields.Integer(metadata={"description": _FAILED_DOC})


class V1WebhookCreatedSchema(V1WebhookSchema):
    secret = fields.String(metadata={"description": _SECRET_DOC})


class V1WebhookListSchema(Schema):
    items = fields.List(fields.Nested(V1WebhookSchema))


class V1DeliveryAttemptSchema(Schema):
    attempt = fields.Integer()
    at = fields.String()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class V1DeliverySchema(Schema):
    id = fields.String()
    event_id = fields.String()
    event_name = fields.String()
    job_id = fields.String(allow_none=True)
    status = fields.String()
    attempt_count = fields.Integer()
    next_retry_at = fields.String(allow_none=True)
    attempts = fields.List(fields.Nested(V1DeliveryAttemptSchema))
    created_at = fields.String()
    updated_at = fields.String()


class V1DeliveryLogSchema(Schema):
    items = fields.List(fields.Nested(V1DeliverySchema))


class V1DeletedWebhookSchema(Schema):
    id = fields.String()
    deleted = fields.Boolean()
