"""POST /api/v1/tts and GET /api/v1/tts/{speechId}: parse, call the service layer, shape the answer."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView

from schemas import api
from schemas import events as ev
from service_layer import jobs as job_cases
from service_layer import speech as speech_service

from .auth import authenticate
from .blueprint import Blueprint
from .context import ports

blp = Blueprint("tts", __name__, url_prefix="/api/v1/tts", description="Text-to-speech generation")


def accepted_body(accepted: speech_service.SpeechAccepted) -> dict[str, Any]:
    speech = {"id": accepted.speech_id, "text": accepted.text, "format": accepted.format,
              "status": accepted.status, "creditsUsed": accepted.credits_used, "createdAt": accepted.created_at}
    return {"success": True, "speechId": accepted.speech_id, "creditsUsed": accepted.credits_used,
            "speech": speech}


def speech_body(found: speech_service.Speech) -> dict[str, Any]:
    doc = found.doc
    speech = {
        "id": doc["_id"],
        "text": doc.get("text"),
        "audioUrl": found.audio_url,
        "format": doc.get("format"),
        "duration": doc.get("duration"),
        "status": doc.get("status"),
        "creditsUsed": doc.get("creditsUsed"),
        "createdAt": ev.iso_millis(doc["createdAt"]),
        "updatedAt": ev.iso_millis(doc.get("updatedAt") or doc["createdAt"]),
        "voice": doc.get("voice"),
    }
    if doc.get("status") == "FAILED":
        speech["error"] = doc.get("error") or "Speech generation failed"
    return {"success": True, "speech": speech}


@blp.route("")
class TextToSpeech(MethodView):
    @blp.arguments(api.TtsRequestSchema, location="json")
    @blp.response(200, api.TtsResponseSchema)
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="Invalid parameters")
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Voice not found or not available")
    @blp.alt_response(429, schema=api.UsageLimitErrorSchema, description="Insufficient credits or rate limited")
    @blp.alt_response(503, schema=api.ErrorBodySchema, description="A downstream service is unavailable; retry")
    def post(self, body):
        """Generate speech from text using a cloned or system voice.

        Costs 1 credit per UTF-8 byte of text (max 5000). Asynchronous: poll GET /api/v1/tts/{speechId}.
        """
        accepted = speech_service.request_speech(ports(), authenticate(), body["voiceId"], body["text"],
                                                 body["format"])
        # No ledger decision in time: the request is safely queued; say so rather than guess.
        return accepted_body(accepted), (200 if accepted.decided else 202)


@blp.route("/<string:speech_id>")
class SpeechStatus(MethodView):
    @blp.arguments(api.WaitQuerySchema, location="query")
    @blp.response(200, api.SpeechStatusResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Speech not found or access denied")
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="wait out of range (0-30)")
    def get(self, query, speech_id):
        """Query the status and details of a TTS generation task.

        With `wait=N` (seconds, up to 30) the answer comes as soon as the speech is COMPLETED or FAILED, or after
        N seconds with its status then: one request instead of a polling loop.
        """
        account_id = authenticate()
        found = job_cases.wait_until_ended(
            ports(), speech_id, query["wait"], lambda: speech_service.get_speech(ports(), account_id, speech_id),
            lambda speech: speech.doc.get("status") in job_cases.ENDED)
        return speech_body(found)
