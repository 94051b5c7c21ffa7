"""GET /api/v1/credits/history: the caller's credit usage history, newest first, cursor-paginated.

Served from the `ledger_entries` view the projector materialises from the ledger topic (one entry per ledger
event). The cursor is opaque to clients; inside it is the account-local sequence of the last entry returned, so
pages stay stable while new entries arrive.
"""
from __future__ import annotations

import base64
import binascii

from flask.views import MethodView

from schemas import api
from schemas import events as ev
from service_layer import credits as credit_service

from .auth import authenticate
from .blueprint import Blueprint
from .context import ports
from .errors import invalid

blp = Blueprint("usage", __name__, url_prefix="/api/v1/credits",
                description="Credit usage history: grants, reservations, captures, releases, refusals, resets")

_CURSOR_TAG = "h1:"


def encode_cursor(sequence: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_TAG}{sequence}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The sequence a cursor points below; raises 400 INVALID_PARAMETERS for anything we did not issue."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if not text.startswith(_CURSOR_TAG):
            raise ValueError(text)
        digits = text[len(_CURSOR_TAG):]
        if not digits.isdigit() or len(digits) > 18 or int(digits) < 1:  # MongoDB ints are 8 bytes
            raise ValueError(text)
        sequence = int(digits)
        return sequence
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor is invalid; pass the nextCursor of a previous page") from None


def entry_view(doc) -> dict:
    return {
        "id": doc["_id"], "type": doc["type"], "amount": doc["amount"], "jobId": doc.get("jobId"),
        "creditKind": doc.get("creditKind"), "reason": doc.get("reason"), "forfeited": doc.get("forfeited", 0),
        "at": ev.iso_millis(doc["at"]), "balanceAfter": doc.get("balanceAfter"),
    }


@blp.route("/history")
class UsageHistory(MethodView):
    @blp.arguments(api.UsageHistoryQuerySchema, location="query")
    @blp.response(200, api.UsageHistoryResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid limit or cursor")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self, args):
        """List your credit usage, newest first: grants, reservations, captures, releases, refusals, resets.

        Each entry names its job (if any), its time and the balance right after it. Page with `nextCursor`.
        """
        before = decode_cursor(args["cursor"]) if args.get("cursor") is not None else None
        page = credit_service.usage_history(ports(), authenticate(), before, args["limit"])
        next_cursor = encode_cursor(page.next_before) if page.next_before is not None else None
        return {"success": True, "items": [entry_view(d) for d in page.entries], "nextCursor": next_cursor}
