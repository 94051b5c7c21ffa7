"""GET /api/v1/credits: the caller's balance, from the ledger's projection."""
from __future__ import annotations

from flask.views import MethodView

from schemas import api
from service_layer import credits as credit_service

from .auth import authenticate
from .blueprint import Blueprint
from .context import ports

blp = Blueprint("credits", __name__, url_prefix="/api/v1/credits", description="Credit balance")


@blp.route("")
class Credits(MethodView):
    @blp.response(200, api.CreditsResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self):
        """Query the current credits balance for the authenticated user."""
        balance = credit_service.get_credits(ports(), authenticate())
        return {"success": True, "credits": balance.credits, "breakdown": balance.breakdown}
