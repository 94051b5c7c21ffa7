"""GET /v1/jobs/{job_id} and GET /v1/jobs/{job_id}/result: any of the caller's jobs (both surfaces' speech jobs,
and the clone jobs of custom voices); another tenant's job is 404, never its data."""
from __future__ import annotations

from flask.views import MethodView

from schemas import api
from schemas import events as ev
from service_layer import jobs as job_cases

from ..auth import authenticate
from ..blueprint import Blueprint
from ..context import ports
from ..errors import ApiError, not_found
from .common import ERROR_401, MIME_TYPES, SECURITY, iso, job_status
from .schemas import JobResultSchema, JobSchema
from .tts import completed_payload

blp = Blueprint("v1-jobs", __name__, url_prefix="/v1/jobs",
                description="Job status and results (X-API-Key). Results are presigned URLs, made fresh per call.")

JOB_TYPES = {ev.JOB_KIND_TTS: "voice_cloning_tts", ev.JOB_KIND_CLONE: "custom_voice_enrolment"}


def _parameters(doc) -> dict:
    """A /v1 job keeps its request's parameters; an /api/v1 speech shows the equivalent ones."""
    if doc.get("parameters"):
        return dict(doc["parameters"])
    return {"format": doc.get("format"), "voice_source": "voice", "custom_voice_id": doc.get("voiceId"),
            "text_bytes": len((doc.get("text") or "").encode("utf-8"))}


def job_view(job: job_cases.Job) -> dict:
    doc, status = job.doc, job_status(job.doc)
    view = {
        "job_id": job.job_id,
        "type": JOB_TYPES.get(job.kind, job.kind),
        "status": status,
        "created_at": iso(doc.get("createdAt")),
        "updated_at": iso(doc.get("updatedAt") or doc.get("createdAt")),
        "started_at": iso(doc.get("startedAt")),
        "completed_at": iso(doc.get("finishedAt")) if status in ("completed", "failed") else None,
        "error": (doc.get("error") or "Job failed") if status == "failed" else None,
        "credits_used": doc.get("creditsUsed"),
        "request_id": doc.get("requestId"),
    }
    if job.kind == ev.JOB_KIND_TTS:
        view["parameters"] = _parameters(doc)
        view["result"] = ({"format": doc.get("format"), "duration": doc.get("duration"),
                           "mime_type": doc.get("mimeType") or MIME_TYPES.get(doc.get("format"))}
                          if status == "completed" else None)
    else:
        view["parameters"] = {"custom_voice_id": job.job_id}
        view["result"] = {"custom_voice_id": job.job_id} if status == "completed" else None
    return view


@blp.route("/<string:job_id>")
class JobStatus(MethodView):
    @blp.doc(security=SECURITY)
    @blp.arguments(api.WaitQuerySchema, location="query")
    @blp.response(200, JobSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Unknown job, or another account's")
    @blp.alt_response(400, schema=api.ErrorBodySchema, description="wait out of range (0-30)")
    def get(self, query, job_id):
        """A job's status (queued, processing, completed, failed), timestamps, error and parameters.

        With `wait=N` (seconds, up to 30) the answer comes as soon as the job completes or fails, or after N
        seconds with its status then.
        """
        account_id = authenticate()
        return job_view(job_cases.wait_until_ended(ports(), job_id, query["wait"],
                                                   lambda: job_cases.get_job(ports(), account_id, job_id),
                                                   job_cases.job_ended))


@blp.route("/<string:job_id>/result")
class JobResult(MethodView):
    @blp.doc(security=SECURITY)
    @blp.response(200, JobResultSchema)
    @blp.alt_response(401, schema=api.ErrorBodySchema, **ERROR_401)
    @blp.alt_response(404, schema=api.ErrorBodySchema, description="Unknown job, another account's, or a job "
                                                                    "without audio (custom voice enrolment)")
    @blp.alt_response(409, schema=api.ErrorBodySchema,
                      description="`JOB_NOT_READY` (queued or processing: poll the job) or `JOB_FAILED`")
    def get(self, job_id):
        """The completed job's audio: a freshly presigned `download_url` and its `mime_type`."""
        job = job_cases.get_job(ports(), authenticate(), job_id)
        if job.kind != ev.JOB_KIND_TTS:
            raise not_found("This job has no audio result; the voice is at /v1/custom-voices/{id}")
        status = job_status(job.doc)
        if status == "failed":
            raise ApiError(409, "JOB_FAILED", job.doc.get("error") or "Job failed", {"job_id": job_id})
        if status != "completed":
            raise ApiError(409, "JOB_NOT_READY", f"The job is {status}; poll GET /v1/jobs/{job_id} until it is "
                                                 f"completed", {"job_id": job_id, "status": status})
        payload = completed_payload(job.doc, job_id, "result")
        payload.pop("mode")
        payload.pop("credits_used")
        return payload
