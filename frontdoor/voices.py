"""POST /api/v1/voice-clone (multipart upload, 1000 credits) and GET /api/v1/voices (paginated list).

A clone request is checked (file type by content, size, metadata), its reference recording is stored in S3
first (claim check: the events carry the object key, never the bytes), then ReserveCreditsForJob (job kind
"clone", job id = voice id) is published and the ledger's decision awaited, as for TTS. The voice is PROCESSING
until the orchestrator's clone stage has enrolled it (COMPLETED), or FAILED with a reason and the credits
released.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

from botocore.exceptions import BotoCoreError, ClientError
from flask import jsonify, request
from flask.views import MethodView
from werkzeug.datastructures import CombinedMultiDict, FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from adapters import mongo
from adapters.blobstore import voice_reference_key
from adapters.kafka import BusUnavailable
from schemas import api, events as ev, ids, jobs

from . import uploads
from .auth import authenticate
from .blueprint import Blueprint, StrictJsonParser
from .context import services
from .errors import INVALID_PARAMETERS, USAGE_LIMIT_EXCEEDED, ApiError, invalid, unavailable

log = logging.getLogger(__name__)


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


def default_title(now: datetime) -> str:
    return f"Voice {now.astimezone(timezone.utc):%Y-%m-%d %H:%M}"


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


def _forget_reference(key: str) -> None:
    try:
        services().blobs.delete(key)
    except (BotoCoreError, ClientError) as exc:
        log.warning("could not delete unused reference %s: %s", key, exc)


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
        svc = services()
        account_id = authenticate(svc.db)
        upload = form["voice"]
        if not isinstance(upload, FileStorage):
            raise invalid("voice must be an audio file sent as multipart/form-data")
        stream = upload.stream
        size = uploads.file_size(stream)
        if size > api.MAX_VOICE_FILE_BYTES:
            raise invalid(api.VOICE_FILE_TOO_LARGE)
        stream.seek(0)
        audio_type = uploads.sniff_audio(stream.read(64))
        stream.seek(0)
        if audio_type is None:
            raise invalid(api.INVALID_VOICE_FILE_TYPE)
        duration = uploads.probe_duration(stream, audio_type)
        if duration is None:
            raise invalid(f"Invalid audio file: the {audio_type.name.upper()} file could not be read "
                          f"(damaged, or no audio track)")

        now = datetime.now(timezone.utc)
        voice_id = ids.new_id()
        key = voice_reference_key(account_id, voice_id, audio_type.extension)
        try:
            svc.blobs.put_file(key, stream, audio_type.mime_type)
        except (BotoCoreError, ClientError) as exc:
            log.warning("reference upload to %s failed: %s", key, exc)
            raise unavailable("Storage is unavailable; nothing was charged. Retry shortly.") from exc

        job = {
            "kind": ev.JOB_KIND_CLONE,
            "jobId": voice_id,
            "accountId": account_id,
            "voiceId": voice_id,
            "title": form.get("title") or default_title(now),
            "description": form.get("description"),
            "coverImage": form.get("coverImage"),
            "tags": form.get("tags") or [],
            "duration": round(duration, 2),
            "referenceKey": key,
            "referenceMimeType": audio_type.mime_type,
            "referenceFormat": audio_type.name,
            "referenceBytes": size,
            "creditsUsed": api.VOICE_CLONE_CREDITS,
            "createdAt": ev.iso_millis(now),
        }
        wait_for_decision = svc.replies.expect(voice_id)
        command = ev.Event(
            ev.RESERVE_FOR_JOB,
            {"commandId": f"reserve:{voice_id}", "accountId": account_id, "jobId": voice_id,
             "amount": api.VOICE_CLONE_CREDITS, "job": job},
            correlation_id=voice_id,
        )
        try:
            svc.publisher.publish(ev.TOPIC_REQUESTS, account_id, command)
        except BusUnavailable as exc:
            wait_for_decision(0)
            _forget_reference(key)
            raise unavailable("The request queue is unavailable; nothing was charged. Retry shortly.") from exc
        # The same guarded write the projector makes: it never overwrites a later state already projected.
        view = jobs.clone_job_view(job, now)
        mongo.apply_voice_transition(svc.db, voice_id, jobs.PENDING_CREDITS, {}, view)

        decision = wait_for_decision(svc.settings.ledger_reply_timeout_s)
        if decision is not None and decision.name == ev.JOB_REJECTED:
            mongo.apply_voice_transition(svc.db, voice_id, jobs.REJECTED,
                                         {"updatedAt": now, "error": "Insufficient credits"}, view)
            _forget_reference(key)
            raise ApiError(429, USAGE_LIMIT_EXCEEDED, "Insufficient credits",
                           {"credits": decision.payload.get("credits", 0),
                            "needCredits": decision.payload.get("needCredits", api.VOICE_CLONE_CREDITS)})
        voice = {
            "id": voice_id,
            "title": job["title"],
            "description": job["description"],
            "coverImage": job["coverImage"],
            "audioUrl": svc.blobs.presigned_url(key),
            "duration": job["duration"],
            "tags": job["tags"],
            "createdAt": job["createdAt"],
        }
        # No decision in time: the request is safely queued; say so rather than guess.
        return {"success": True, "voiceId": voice_id, "voice": voice}, (200 if decision is not None else 202)


# --- GET /api/v1/voices ---------------------------------------------------------------------------------------------

def voice_item(doc, presign) -> dict:
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


def pagination(page: int, limit: int, total: int) -> dict:
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
        svc = services()
        account_id = authenticate(svc.db)
        page, limit = query["page"], query["limit"]
        docs, total = mongo.list_voices(
            svc.db, account_id, status=query.get("status"), voice_type=query.get("type"), sort_by=query["sortBy"],
            descending=query["sortOrder"] == "desc", skip=(page - 1) * limit, limit=limit)
        return {"success": True, "voices": [voice_item(doc, svc.blobs.presigned_url) for doc in docs],
                "pagination": pagination(page, limit, total)}
