"""GET /api/v1/credits: the caller's balance, from the ledger's projection."""
from __future__ import annotations

from flask.views import MethodView
from .blueprint import Blueprint

from adapters import mongo
from schemas import api

from .auth import authenticate
from .context import services

blp = Blueprint("credits", __name__, url_prefix="/api/v1/credits", description="Credit balance")


@blp.route("")
class Credits(MethodView):
    @blp.response(200, api.CreditsResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self):
        """Query the current credits balance for the authenticated user."""
        svc = services()
        account_id = authenticate(svc.db)
        view = mongo.find_credit_view(svc.db, account_id)
        if view is None:  # the ledger has not opened this account (yet)
            return {"success": True, "credits": 0, "breakdown": {"regular": 0, "permanent": 0, "resetAt": None}}
        return {"success": True, "credits": view["credits"], "breakdown": view["breakdown"]}
