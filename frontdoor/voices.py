"""POST /api/v1/voice-clone (multipart upload, 1000 credits) and GET /api/v1/voices (paginated list).

The handlers parse the form or query (size-capped upload, metadata schema) and shape the answer; checking the
recording, storing it, reserving the credits and writing the voice view is ``service_layer.voices``.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from flask import jsonify, request
from flask.views import MethodView
from werkzeug.datastructures import CombinedMultiDict, FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from schemas import api
from schemas import events as ev
from service_layer import voices as voice_service
from service_layer.voices import default_title  # noqa: F401 (re-exported: the generated title's rule)

from . import uploads
from .auth import authenticate
from .blueprint import Blueprint, StrictJsonParser
from .context import ports
from .errors import INVALID_PARAMETERS, invalid


class MultipartParser(StrictJsonParser):
    """``location="form"`` reads the text fields and the files of a multipart body together, so one schema (and
    one requestBody in the OpenAPI document) describes the whole form."""

    def load_form(self, req, schema):
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class MultipartBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()


clone_blp = MultipartBlueprint(
    "voice-clone", __name__, url_prefix="/api/v1/voice-clone",
    description="Clone a voice model from an audio file (1000 credits per voice).")
voices_blp = Blueprint(
    "voices", __name__, url_prefix="/api/v1/voices",
    description="Your cloned voices and the public system voices, with pagination and filtering.")

CLONE_EXAMPLE = {"voice": "(binary audio file)", "title": "My Voice Clone",
                 "description": "A custom voice description", "coverImage": "https://example.com/cover.jpg",
                 "tags": '["male","young","energetic"]'}
CLONE_RESPONSE_EXAMPLE = {
    "success": True, "voiceId": "clxxxx",
    "voice": {"id": "clxxxx", "title": "My Voice Clone", "description": "A custom voice description",
              "coverImage": "https://example.com/cover.jpg",
              "audioUrl": "https://your-storage.com/voices/user123/1234567890-voice.mp3", "duration": 125.3,
              "tags": ["male", "young"], "createdAt": "2024-01-01T00:00:00.000Z"},
}
LIST_RESPONSE_EXAMPLE = {
    "success": True,
    "voices": [{"id": "clxxxx", "title": "My Voice Clone", "description": "A custom voice description",
                "coverImage": "https://example.com/cover.jpg",
                "audioUrl": "https://your-storage.com/voices/user123/voice.mp3", "duration": 125,
                "status": "COMPLETED", "type": "USER", "isPublic": False, "popularity": 0, "tags": ["male", "young"],
                "usageCount": 15, "createdAt": "2024-01-01T00:00:00.000Z",
                "updatedAt": "2024-01-01T00:00:00.000Z"}],
    "pagination": {"page": 1, "limit": 20, "total": 1, "totalPages": 1, "hasNext": False, "hasPrev": False},
}
INSUFFICIENT_EXAMPLE = {"error": "Insufficient credits", "code": "USAGE_LIMIT_EXCEEDED", "credits": 500,
                        "needCredits": 1000}
INVALID_TYPE_EXAMPLE = {"code": "INVALID_PARAMETERS", "error": api.INVALID_VOICE_FILE_TYPE}


# --- POST /api/v1/voice-clone ---------------------------------------------------------------------------------------

@clone_blp.before_request
def _cap_upload():
    """Before the body is read: refuse a declared size over the limit at once, and make the form parser stop a
    file part (also of a chunked body, which declares no size) as soon as it passes 20 MB."""
    if request.method != "POST":
        return None
    length = request.content_length
    if length is not None and length > uploads.MAX_BODY_BYTES:
        raise invalid(api.VOICE_FILE_TOO_LARGE)
    request.form_data_parser_class = uploads.CappedFormDataParser
    request.max_content_length = uploads.MAX_BODY_BYTES
    return None


@clone_blp.errorhandler(RequestEntityTooLarge)
def _too_large(err: RequestEntityTooLarge):
    length = request.content_length
    if isinstance(err, uploads.FileTooLarge) or length is None or length > uploads.MAX_BODY_BYTES:
        message = api.VOICE_FILE_TOO_LARGE
    else:  # werkzeug's per-field memory limit (500 kB) for a text field
        message = "A form field is too large"
    return jsonify({"code": INVALID_PARAMETERS, "error": message}), 400


def clone_body(accepted: voice_service.CloneAccepted) -> dict[str, Any]:
    job = accepted.job
    voice = {"id": accepted.voice_id, "title": job["title"], "description": job["description"],
             "coverImage": job["coverImage"], "audioUrl": accepted.audio_url, "duration": job["duration"],
             "tags": job["tags"], "createdAt": job["createdAt"]}
    return {"success": True, "voiceId": accepted.voice_id, "voice": voice}


@clone_blp.route("")
class VoiceClone(MethodView):
    @clone_blp.arguments(api.VoiceCloneFormSchema, location="form", content_type="multipart/form-data",
                         example=CLONE_EXAMPLE)
    @clone_blp.response(200, api.VoiceCloneResponseSchema, example=CLONE_RESPONSE_EXAMPLE)
    @clone_blp.alt_response(202, schema=api.VoiceCloneResponseSchema,
                            description="Queued, but the ledger's decision did not arrive in time: the voice's "
                                        "status (GET /api/v1/voices) tells the outcome")
    @clone_blp.alt_response(400, schema=api.ErrorBodySchema, example=INVALID_TYPE_EXAMPLE,
                            description="Invalid file type, file over 20MB, or invalid parameters")
    @clone_blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @clone_blp.alt_response(429, schema=api.UsageLimitErrorSchema, example=INSUFFICIENT_EXAMPLE,
                            description="Insufficient credits (1000 needed) or rate limited")
    @clone_blp.alt_response(503, schema=api.ErrorBodySchema,
                            description="Storage or the request queue is unavailable; nothing was charged")
    def post(self, form):
        """Clone a voice model from an audio file.

        Costs 1000 credits. `voice`: MP3, WAV or WebM (Ogg too), max 20MB, recognised by content. The voice is
        `PROCESSING` until enrolment finishes, then `COMPLETED` (usable for TTS) or `FAILED` with the reason
        (credits returned); see GET /api/v1/voices.
        """
        upload = form["voice"]
        if not isinstance(upload, FileStorage):
            raise invalid("voice must be an audio file sent as multipart/form-data")
        details = voice_service.VoiceDetails(title=form.get("title"), description=form.get("description"),
                                             cover_image=form.get("coverImage"), tags=form.get("tags") or [])
        accepted = voice_service.clone_voice(ports(), authenticate(), upload.stream, details)
        # No ledger decision in time: the request is safely queued; say so rather than guess.
        return clone_body(accepted), (200 if accepted.decided else 202)


# --- GET /api/v1/voices ---------------------------------------------------------------------------------------------

def voice_item(doc: Mapping[str, Any], presign: Callable[[str], str]) -> dict[str, Any]:
    """A voice document as the list shows it; ``presign(key)`` makes the reference's URL (USER voices only)."""
    is_user = doc.get("type") == "USER"
    created = doc.get("createdAt")
    updated = doc.get("updatedAt") or created
    item = {
        "id": doc["_id"],
        "title": doc.get("title"),
        "description": doc.get("description"),
        "coverImage": doc.get("coverImage"),
        "audioUrl": presign(doc["audioKey"]) if is_user and doc.get("audioKey") else None,
        "duration": doc.get("duration"),
        "status": doc.get("status"),
        "type": doc.get("type"),
        "isPublic": bool(doc.get("isPublic")),
        "popularity": int(doc.get("popularity") or 0),
        "tags": list(doc.get("tags") or []),
        "usageCount": int(doc.get("usageCount") or 0),
        "createdAt": ev.iso_millis(created) if created else None,
        "updatedAt": ev.iso_millis(updated) if updated else None,
    }
    if item["status"] == "FAILED":
        item["error"] = doc.get("error") or "Voice cloning failed"
    return item


def pagination(page: int, limit: int, total: int) -> dict[str, Any]:
    total_pages = math.ceil(total / limit) if total else 0
    return {"page": page, "limit": limit, "total": total, "totalPages": total_pages,
            "hasNext": page < total_pages, "hasPrev": page > 1}


@voices_blp.route("")
class Voices(MethodView):
    @voices_blp.arguments(api.VoiceListQuerySchema, location="query")
    @voices_blp.response(200, api.VoiceListResponseSchema, example=LIST_RESPONSE_EXAMPLE)
    @voices_blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters")
    @voices_blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    def get(self, query):
        """Query the list of your cloned voices (and the public system voices) with pagination and filtering.

        Free. `type=USER` lists only your voices, `type=SYSTEM` only the public system voices.
        """
        found = voice_service.list_voices(
            ports(), authenticate(), page=query["page"], limit=query["limit"], status=query.get("status"),
            voice_type=query.get("type"), sort_by=query["sortBy"], descending=query["sortOrder"] == "desc")
        presign = ports().blobs.presigned_url
        return {"success": True, "voices": [voice_item(doc, presign) for doc in found.voices],
                "pagination": pagination(found.page, found.limit, found.total)}
