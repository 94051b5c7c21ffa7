"""Self-service API keys: list, create (the secret is shown once) and revoke the caller's own keys."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask.views import MethodView

from schemas import api
from schemas import events as ev
from service_layer import keys
from service_layer.keys import MAX_ACTIVE_KEYS  # noqa: F401 (re-exported)

from .auth import authenticate
from .blueprint import Blueprint
from .context import ports

blp = Blueprint("api-keys", __name__, url_prefix="/api/v1/api-keys",
                description="Manage your API keys. A key's secret is shown once, at creation; only a hash is stored.")


def _key_view(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": doc["_id"], "name": doc.get("name"), "prefix": doc.get("prefix"),
            "createdAt": ev.iso_millis(doc["createdAt"]),
            "revokedAt": ev.iso_millis(doc["revokedAt"]) if doc.get("revokedAt") else None}


@blp.route("")
class ApiKeys(MethodView):
    @blp.response(200, api.ApiKeyListResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self):
        """List your API keys (active and revoked; secrets are never shown again)."""
        return {"success": True, "keys": [_key_view(d) for d in keys.list_keys(ports(), authenticate())]}

    @blp.arguments(api.ApiKeyCreateRequestSchema, location="json")
    @blp.response(201, api.ApiKeyCreatedResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters or too many keys")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def post(self, body):
        """Create a new API key. The response holds the secret: it is shown only this once."""
        issued = keys.create_key(ports(), authenticate(), name=body.get("name"))
        return {"success": True, "apiKey": issued.secret, "key": _key_view(issued.record)}


@blp.route("/<string:key_id>")
class ApiKey(MethodView):
    @blp.response(200, api.SuccessSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="No such active key of yours")
    def delete(self, key_id):
        """Revoke one of your API keys. Requests with it are refused from now on."""
        keys.revoke_key(ports(), key_id, account_id=authenticate())
        return {"success": True}
