"""What every /v1 module shares: the multipart blueprint with the 20 MB upload cap, the X-API-Key security of
the OpenAPI operations, and the mapping of the job state machine onto /v1 statuses."""
from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from schemas import events as ev
from schemas import jobs
from schemas.limits import VOICE_FILE_TOO_LARGE

from .. import uploads
from ..errors import INVALID_PARAMETERS, invalid
from ..voices import MultipartBlueprint

SECURITY = [{"apiKeyHeader": []}]  # /v1 documents X-API-Key (Authorization: Bearer works too)

ERROR_401 = {"description": "Missing or invalid X-API-Key"}

# The job state machine (schemas/jobs.py) as /v1 shows it, lowercase as the seed's other values.
V1_JOB_STATUS = {
    None: "queued",
    jobs.PENDING_CREDITS: "queued",
    jobs.QUEUED: "queued",
    jobs.PROCESSING: "processing",
    jobs.COMPLETED: "completed",
    jobs.FAILED: "failed",
    jobs.REJECTED: "failed",
}
V1_VOICE_STATUS = {"PROCESSING": "processing", "COMPLETED": "ready", "FAILED": "failed"}
MIME_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "pcm": "audio/L16"}


def job_status(doc) -> str:
    state = doc.get("state")
    if state in V1_JOB_STATUS:
        return V1_JOB_STATUS[state]
    return {"PROCESSING": "processing", "COMPLETED": "completed", "FAILED": "failed"}.get(doc.get("status"), "queued")


def iso(moment) -> str | None:
    return ev.iso_millis(moment) if moment else None


def multipart_blueprint(name: str, import_name: str, **kwargs) -> MultipartBlueprint:
    """A blueprint whose form uploads are capped at 20 MB while the body is read (never buffered whole), with
    the same 400 ``File size exceeds 20MB limit`` as /api/v1/voice-clone."""
    blp = MultipartBlueprint(name, import_name, **kwargs)

    @blp.before_request
    def _cap_upload():
        if request.method != "POST":
            return None
        length = request.content_length
        if length is not None and length > uploads.MAX_BODY_BYTES:
            raise invalid(VOICE_FILE_TOO_LARGE)
        request.form_data_parser_class = uploads.CappedFormDataParser
        request.max_content_length = uploads.MAX_BODY_BYTES
        return None

    @blp.errorhandler(RequestEntityTooLarge)
    def _too_large(err):
        if isinstance(err, uploads.FileTooLarge) or request.content_length is None \
                or request.content_length > uploads.MAX_BODY_BYTES:
            return jsonify({"code": INVALID_PARAMETERS, "error": VOICE_FILE_TOO_LARGE}), 400
        return jsonify({"code": INVALID_PARAMETERS, "error": "A form field is too large"}), 400

    return blp
