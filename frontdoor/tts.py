"""POST /api/v1/tts and GET /api/v1/tts/{speechId}."""
from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView
from .blueprint import Blueprint

from adapters import mongo
from adapters.kafka import BusUnavailable
from schemas import api, events as ev, ids, jobs

from .auth import authenticate
from .context import services
from .errors import ApiError, USAGE_LIMIT_EXCEEDED, invalid, not_found, unavailable

blp = Blueprint("tts", __name__, url_prefix="/api/v1/tts", description="Text-to-speech generation")

def _voice_summary(voice) -> dict:
    return {"id": voice["_id"], "title": voice.get("title"), "coverImage": voice.get("coverImage"),
            "type": voice.get("type")}


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
        svc = services()
        account_id = authenticate(svc.db)
        text = body["text"]
        price = len(text.encode("utf-8"))
        if price > api.MAX_TTS_BYTES:
            raise invalid("Text exceeds maximum length of 5000 bytes")
        if not text.strip():
            raise invalid("text must not be empty")
        voice = mongo.find_usable_voice(svc.db, account_id, body["voiceId"])
        if voice is None:
            raise not_found("Voice not found or not available")
        if voice.get("status") == "FAILED":
            raise invalid("Voice cloning failed for this voice; it cannot be used for speech")
        if voice.get("status") != "COMPLETED":
            raise invalid(f"Voice is not ready (status {voice.get('status')}); wait until it is COMPLETED")

        speech_id = ids.new_id()
        now = datetime.now(timezone.utc)
        job = {
            "kind": "tts",
            "jobId": speech_id,
            "accountId": account_id,
            "text": text,
            "format": body["format"],
            "voice": _voice_summary(voice),
            "engineVoice": voice.get("engineVoice"),
            "profile": voice.get("profile"),  # a cloned voice's profile (None for system voices)
            "creditsUsed": price,
            "createdAt": ev.iso_millis(now),
        }
        wait_for_decision = svc.replies.expect(speech_id)
        command = ev.Event(
            ev.RESERVE_FOR_JOB,
            {"commandId": f"reserve:{speech_id}", "accountId": account_id, "jobId": speech_id, "amount": price,
             "job": job},
            correlation_id=speech_id,
        )
        try:
            svc.publisher.publish(ev.TOPIC_REQUESTS, account_id, command)
        except BusUnavailable as exc:
            wait_for_decision(0)
            raise unavailable("The request queue is unavailable; nothing was charged. Retry shortly.") from exc
        # Record the request in the job view: the same guarded write the projector uses, so it cannot overwrite
        # a later state the projector may already have written.
        mongo.apply_job_transition(svc.db, speech_id, jobs.PENDING_CREDITS, {}, _speech_view_fields(job, now))

        decision = wait_for_decision(svc.settings.ledger_reply_timeout_s)
        if decision is not None and decision.name == ev.JOB_REJECTED:
            raise ApiError(429, USAGE_LIMIT_EXCEEDED, "Insufficient credits",
                           {"credits": decision.payload.get("credits", 0),
                            "needCredits": decision.payload.get("needCredits", price)})
        speech = {"id": speech_id, "text": text, "format": body["format"], "status": "PROCESSING",
                  "creditsUsed": price, "createdAt": job["createdAt"]}
        # No decision in time: the request is safely queued; say so rather than guess.
        status = 200 if decision is not None else 202
        return {"success": True, "speechId": speech_id, "creditsUsed": price, "speech": speech}, status


def _speech_view_fields(job: dict, now: datetime) -> dict:
    return {
        "accountId": job["accountId"],
        "kind": job["kind"],
        "text": job["text"],
        "format": job["format"],
        "voice": job["voice"],
        "voiceId": job["voice"]["id"],
        "creditsUsed": job["creditsUsed"],
        "audioKey": None,
        "duration": None,
        "error": None,
        "createdAt": now,
        "updatedAt": now,
    }


@blp.route("/<string:speech_id>")
class SpeechStatus(MethodView):
    @blp.response(200, api.SpeechStatusResponseSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, description="Missing or invalid API key")
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Speech not found or access denied")
    def get(self, speech_id):
        """Query the status and details of a TTS generation task."""
        svc = services()
        account_id = authenticate(svc.db)
        doc = mongo.find_speech(svc.db, account_id, speech_id)
        if doc is None:
            raise not_found("Speech not found or access denied")
        audio_url = None
        if doc.get("status") == "COMPLETED" and doc.get("audioKey"):
            audio_url = svc.blobs.presigned_url(doc["audioKey"])
        speech = {
            "id": doc["_id"],
            "text": doc.get("text"),
            "audioUrl": audio_url,
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

