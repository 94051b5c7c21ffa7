"""POST /v1/voice-cloning/tts: speech in the voice of a reference upload or a custom voice, async or sync."""
from __future__ import annotations

import time

from flask import jsonify
from flask.views import MethodView

from schemas import api
from service_layer import cloning_tts

from ..auth import authenticate
from ..context import ports, services
from ..errors import ApiError, invalid
from . import languages
from .common import ERROR_401, MIME_TYPES, SECURITY, multipart_blueprint
from .schemas import AsyncAcceptedSchema, CloningTtsFormSchema, JobErrorSchema, SyncResultSchema

blp = multipart_blueprint(
    "v1-voice-cloning", __name__, url_prefix="/v1/voice-cloning",
    description="Text-to-speech with voice cloning (X-API-Key): a WAV reference or a custom voice; "
                "1 credit per UTF-8 byte of text, reserved on accept, captured on success, released on failure.")

EXAMPLE_FORM = {"text": "Thanks for building with Voicechanger.co", "language": "auto", "async_mode": "true",
                "custom_voice_id": "8f14e45f-ceea-467f-a0e6-2b1d5c2a9b10"}


def spoken_language(requested: str, text: str) -> str:
    """The language the text is spoken in: as asked, or detected for ``auto``; 400 when not supported."""
    try:
        return languages.resolve(requested, text)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def completed_payload(doc, job_id: str, mode: str) -> dict:
    """A completed speech as the sync answer and GET /v1/jobs/{id}/result show it, with a fresh URL."""
    settings = services().settings
    fmt = doc.get("format")
    return {"mode": mode, "status": "completed", "job_id": job_id,
            "download_url": ports().blobs.presigned_url(doc["audioKey"]),
            "mime_type": doc.get("mimeType") or MIME_TYPES.get(fmt, "application/octet-stream"),
            "format": fmt, "duration": doc.get("duration"), "expires_in": settings.s3_presign_ttl_s,
            "credits_used": doc.get("creditsUsed")}


def job_failed(doc, job_id: str) -> ApiError:
    return ApiError(422, "JOB_FAILED", doc.get("error") or "Speech generation failed", {"job_id": job_id})


@blp.route("/tts")
class CloningTts(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(CloningTtsFormSchema, location="form", content_type="multipart/form-data", example=EXAMPLE_FORM)
    @blp.response(200, SyncResultSchema, description="Sync mode, the audio is ready: download_url")
    @blp.alt_response(202, schema=AsyncAcceptedSchema,
                      description="async_mode=true: {mode, job_id, queued}. Sync mode past the wait limit: "
                                  "{mode: sync, status: timeout_waiting, job_id}; poll GET /v1/jobs/{job_id}")
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters")
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="custom_voice_id not found")
    @blp.alt_response(422, schema=JobErrorSchema, description="Sync mode: the job failed (credits released)")
    @blp.alt_response(429, schema=api.UsageLimitErrorSchema, description="Insufficient credits or rate limited")
    @blp.alt_response(503, schema=api.ErrorBodySchema, description="A downstream service is unavailable")
    def post(self, form):
        """Generate speech in a cloned voice.

        Exactly one of `audio_ref` (WAV, enrolled for this job; the same file again reuses that voice for a
        day) or `custom_voice_id`. `async_mode=true` answers at once; `false` (default) waits for the audio up to
        the server's sync limit.
        """
        started = time.monotonic()
        account_id = authenticate()
        request = cloning_tts.CloningSpeechRequest(
            text=form["text"], fmt=form["format"], language=form["language"],
            spoken_language=spoken_language(form["language"], form["text"]),
            speed=form["speed"], duration_s=form["duration"], async_mode=form["async_mode"] == "true",
            custom_voice_id=form["custom_voice_id"],
            reference=form["audio_ref"].stream if form["audio_ref"] is not None else None)
        accepted = cloning_tts.request_cloning_speech(ports(), account_id, request)
        if request.async_mode:
            # Other shapes than the 200 schema: returned as they are (flask-smorest dumps only the 200 one).
            return jsonify({"mode": "async", "job_id": accepted.speech_id, "queued": True,
                            "credits_reserved": accepted.credits_used}), 202
        limit = services().settings.v1_sync_timeout_s
        doc = cloning_tts.wait_for_speech(ports(), account_id, accepted.speech_id,
                                          max(0.0, limit - (time.monotonic() - started)))
        if doc is None:
            return jsonify({"mode": "sync", "status": "timeout_waiting", "job_id": accepted.speech_id,
                            "waited_s": round(time.monotonic() - started, 1)}), 202
        if doc.get("status") != "COMPLETED":
            raise job_failed(doc, accepted.speech_id)
        return completed_payload(doc, accepted.speech_id, "sync")
