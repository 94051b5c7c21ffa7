"""Self-service API keys: list, create (the secret is shown once) and revoke the caller's own keys."""
from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView

from adapters import mongo
from schemas import api, events as ev

from .admin import issue_key
from .auth import authenticate
from .blueprint import Blueprint
from .context import services
from .errors import invalid, not_found

MAX_ACTIVE_KEYS = 20

blp = Blueprint("api-keys", __name__, url_prefix="/api/v1/api-keys",
                description="Manage your API keys. A key's secret is shown once, at creation; only a hash is stored.")


def _key_view(doc) -> dict:
    return {"id": doc["_id"], "name": doc.get("name"), "prefix": doc.get("prefix"),
            "createdAt": ev.iso_millis(doc["createdAt"]),
            "revokedAt": ev.iso_millis(doc["revokedAt"]) if doc.get("revokedAt") else None}


@blp.route("")
class ApiKeys(MethodView):
    @blp.response(200, api.ApiKeyListResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self):
        """List your API keys (active and revoked; secrets are never shown again)."""
        svc = services()
        account_id = authenticate(svc.db)
        return {"success": True, "keys": [_key_view(d) for d in mongo.list_api_keys(svc.db, account_id)]}

    @blp.arguments(api.ApiKeyCreateRequestSchema, location="json")
    @blp.response(201, api.ApiKeyCreatedResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters or too many keys")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def post(self, body):
        """Create a new API key. The response holds the secret: it is shown only this once."""
        svc = services()
        account_id = authenticate(svc.db)
        if mongo.count_active_api_keys(svc.db, account_id) >= MAX_ACTIVE_KEYS:
            raise invalid(f"Too many active API keys (max {MAX_ACTIVE_KEYS}); revoke one first")
        key_id, secret = issue_key(svc.db, account_id, name=body.get("name"))
        doc = svc.db.api_keys.find_one({"_id": key_id})
        return {"success": True, "apiKey": secret, "key": _key_view(doc)}


@blp.route("/<string:key_id>")
class ApiKey(MethodView):
    @blp.response(200, api.SuccessSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such active key of yours")
    def delete(self, key_id):
        """Revoke one of your API keys. Requests with it are refused from now on."""
        svc = services()
        account_id = authenticate(svc.db)
        if not mongo.revoke_api_key(svc.db, account_id, key_id, datetime.now(timezone.utc)):
            raise not_found("API key not found or already revoked")
        return {"success": True}
