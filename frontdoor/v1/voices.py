"""/v1/custom-voices: the caller's cloned voices (the same voices as /api/v1/voices, USER type only), by UUID."""
from __future__ import annotations

from flask.views import MethodView

from schemas import api
from service_layer import voices as voice_cases

from ..auth import authenticate
from ..context import ports
from ..errors import invalid
from .common import ERROR_401, SECURITY, V1_VOICE_STATUS, iso, multipart_blueprint
from .schemas import (
    CustomVoiceCreateFormSchema,
    CustomVoiceListQuerySchema,
    CustomVoiceListSchema,
    CustomVoiceSchema,
    CustomVoiceUpdateSchema,
    DeletedSchema,
    is_uuid,
)

DESCRIPTION = ("Your custom voices (X-API-Key): the same voices as /api/v1/voices (your USER voices), by UUID. "
               "Creating one costs 1000 credits, like /api/v1/voice-clone.")
# One blueprint: multipart for POST (upload capped at 20 MB), strict JSON for PATCH.
blp = multipart_blueprint("v1-custom-voices", __name__, url_prefix="/v1/custom-voices", description=DESCRIPTION)


def voice_view(doc) -> dict:
    key = doc.get("audioKey")
    status = V1_VOICE_STATUS.get(doc.get("status"), "processing")
    return {
        "id": doc["_id"],
        "name": doc.get("title"),
        "description": doc.get("description"),
        "tags": list(doc.get("tags") or []),
        "status": status,
        "error": (doc.get("error") or "Voice cloning failed") if status == "failed" else None,
        "reference_url": ports().blobs.presigned_url(key) if key else None,
        "reference_duration": doc.get("duration"),
        "usage_count": int(doc.get("usageCount") or 0),
        "created_at": iso(doc.get("createdAt")),
        "updated_at": iso(doc.get("updatedAt") or doc.get("createdAt")),
    }


def _checked_id(voice_id: str) -> str:
    if not is_uuid(voice_id):
        raise invalid("voice_id must be a UUID")
    return voice_id


@blp.route("")
class CustomVoices(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CustomVoiceCreateFormSchema, location="form", content_type="multipart/form-data")
    @blp.response(201, CustomVoiceSchema, description="Created; status `processing` until enrolment ends")
    @blp.alt_response(202, schema=CustomVoiceSchema,
                             description="Queued, but the ledger's decision did not arrive in time")
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid file or parameters")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(429, schema=api.UsageLimitErrorSchema, description="Insufficient credits (1000)")
    def post(self, form):
        """Create a custom voice from a reference recording (1000 credits)."""
        account_id = authenticate()
        accepted = voice_cases.clone_voice(
            ports(), account_id, form["audio"].stream,
            voice_cases.VoiceDetails(title=form["name"], description=form["description"], tags=form["tags"]))
        doc = voice_cases.get_voice(ports(), account_id, accepted.voice_id, include_system=False)
        return voice_view(doc), (201 if accepted.decided else 202)

    @blp.doc(security=SECURITY)
    @blp.arguments(CustomVoiceListQuerySchema, location="query")
    @blp.response(200, CustomVoiceListSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    def get(self, query):
        """List your custom voices, newest first, `page` / `page_size` (max 100)."""
        page = voice_cases.list_voices(ports(), authenticate(), page=query["page"], limit=query["page_size"],
                                       voice_type="USER", sort_by="createdAt", descending=True)
        return {"items": [voice_view(doc) for doc in page.voices], "page": page.page, "page_size": page.limit,
                "total": page.total, "total_pages": page.total_pages, "has_next": page.page < page.total_pages}


@blp.route("/<string:voice_id>")
class CustomVoice(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, CustomVoiceSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="voice_id is not a UUID")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Unknown, deleted or another account's voice")
    def get(self, voice_id):
        """One custom voice."""
        return voice_view(voice_cases.get_voice(ports(), authenticate(), _checked_id(voice_id),
                                                include_system=False))

    @blp.doc(security=SECURITY)
    @blp.arguments(CustomVoiceUpdateSchema, location="json")
    @blp.response(200, CustomVoiceSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Unknown, deleted or another account's voice")
    def patch(self, changes, voice_id):
        """Update a custom voice's metadata: any of `name`, `description` (null clears it), `tags`."""
        description = changes.get("description")
        if "description" in changes and description is None:
            description = ""  # null clears it (None would leave it as it is)
        doc = voice_cases.update_voice(ports(), authenticate(), _checked_id(voice_id), voice_cases.VoiceChanges(
            title=changes.get("name"), description=description, tags=changes.get("tags")))
        return voice_view(doc)

    @blp.doc(security=SECURITY)
    @blp.response(200, DeletedSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Unknown, deleted or another account's voice")
    def delete(self, voice_id):
        """Delete a custom voice: its reference and profile leave storage; it can no longer be used (404)."""
        voice_cases.delete_voice(ports(), authenticate(), _checked_id(voice_id))
        return {"id": voice_id, "deleted": True}
