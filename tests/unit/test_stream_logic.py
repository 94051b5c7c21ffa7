"""The stream processors' decisions are plain functions: importable and testable without Faust, Kafka, MongoDB,
boto3 or Triton; one stage template settles TTS and clone jobs alike."""
import dataclasses
import subprocess
import sys

import pytest

from inference_client import InferenceError
from schemas import messages as msg
from streams import stage_logic

PURE_MODULES = ("streams.ledger_logic", "streams.projection_logic", "streams.stage_logic", "streams.timer_logic",
                "streams.completion_logic", "service_layer.webhook_logic", "schemas.messages", "schemas.catalogue")
CLIENT_LIBRARIES = ("faust", "mode", "pymongo", "boto3", "botocore", "confluent_kafka", "tritonclient")

TTS = msg.TtsJob(job_id="cl1", account_id="a", text="hi", format="wav",
                 voice=msg.VoiceSummary(id=None, title="Reference upload", cover_image=None, type="REFERENCE"),
                 engine_voice=None, profile=None, credits_used=2, created_at="2026-01-01T00:00:00.000Z",
                 api="v1", speed=1.25, reference_key="jobs/a/cl1/reference.wav")
CLONE = msg.CloneJob(job_id="v1", account_id="a", voice_id="v1", title="Mine", description=None, cover_image=None,
                     tags=("calm",), duration=12.5, reference_key="voices/a/v1.wav", reference_mime_type="audio/wav",
                     reference_format="wav", reference_bytes=1000, credits_used=1000,
                     created_at="2026-01-01T00:00:00.000Z")


def test_pure_modules_import_no_client_library():
    code = (f"import sys\nfor m in {PURE_MODULES!r}: __import__(m)\n"
            f"print(sorted({{n.split('.')[0] for n in sys.modules}} & set({CLIENT_LIBRARIES!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("job", [TTS, CLONE], ids=["tts", "clone"])
def test_a_job_starts_then_is_settled_by_its_result_or_its_failure(job):
    assert stage_logic.started(job) == msg.JobStarted(job_id=job.job_id, account_id="a", kind=job.kind)
    result = (msg.SpeechResult(audio_key="k", duration=1.0, mime_type="audio/wav", format="wav", voice_id=None)
              if job.kind == "tts" else msg.VoiceResult(engine_voice="awb", profile={}, enrolled_duration=12.0))
    done, capture = stage_logic.settlement(job, result)
    told = {"credits_used": job.credits_used, "api": getattr(job, "api", None)}  # what the public event tells
    if job.kind == "clone":  # voice.ready names the voice's reference recording
        result = msg.VoiceResult(engine_voice="awb", profile={}, enrolled_duration=12.0,
                                 reference_key=job.reference_key)
    assert done == msg.JobCompleted(job_id=job.job_id, account_id="a", kind=job.kind, result=result, **told)
    assert capture == msg.CaptureJobCredits(command_id=f"capture:{job.job_id}", account_id="a", job_id=job.job_id,
                                            amount=job.credits_used)
    failed, release = stage_logic.settlement(job, "boom")
    assert failed == msg.JobFailed(job_id=job.job_id, account_id="a", kind=job.kind, reason="boom", **told)
    assert release == msg.ReleaseJobCredits(command_id=f"release:{job.job_id}", account_id="a", job_id=job.job_id,
                                            reason="failed")
    # Job events go to the jobs topic under the job id, the credit commands to the account's partition.
    assert (done.TOPIC, done.key(), capture.TOPIC, capture.key()) == ("jobs", job.job_id, "requests", "a")


def test_failure_reasons_per_stage():
    silent = InferenceError("the reference audio is silent", code="audio_silent")
    down = InferenceError("the inference server is unavailable", code="unavailable", retryable=True)
    assert stage_logic.tts_failure_reason(silent) == "The reference audio cannot be used: the reference audio is silent"
    assert stage_logic.tts_failure_reason(down) == "synthesis failed: the inference server is unavailable"
    assert stage_logic.clone_failure_reason(silent) == "The reference audio is silent"
    assert stage_logic.tts_internal_failure(OSError()) == "internal error: OSError"
    assert stage_logic.clone_internal_failure(OSError()) == "Voice cloning failed: internal error (OSError)"


def test_the_v1_job_options_travel_and_are_left_out_when_unset():
    payload = msg.ReserveCreditsForJob.for_job(TTS).to_payload()
    assert payload["job"]["speed"] == 1.25 and payload["job"]["referenceKey"] == "jobs/a/cl1/reference.wav"
    assert "durationS" not in payload["job"] and "parameters" not in payload["job"]
    assert msg.ReserveCreditsForJob.from_payload(payload).job == TTS


def test_a_job_of_another_kind_is_priced_and_handed_back_as_it_came():
    from datetime import UTC, datetime, timedelta

    import ledger
    from streams import ledger_logic

    raw = {"kind": "ledger-test", "jobId": "j1", "accountId": "a", "creditsUsed": 3, "text": "xyz"}
    request = msg.ReserveCreditsForJob.for_job(msg.job_from_dict(raw))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    _, state = ledger.apply_command(None, ledger.OpenAccount(command_id="o", account_id="a", at=at,
                                                             monthly_allowance=10, reset_at=at + timedelta(days=30)))
    _, state = ledger.apply_command(state, ledger_logic.to_command(request, at, timedelta(minutes=15)))
    reply = ledger_logic.reservation_reply(state, request)
    assert isinstance(reply, msg.JobAccepted) and reply.kind == "ledger-test"
    assert reply.to_payload()["job"] == raw


def test_jobs_that_enrol_a_reference_run_in_their_own_lane():
    def accepted(job):
        return msg.JobAccepted(job_id=job.job_id, account_id="a", kind=job.kind, job=job)

    in_a_saved_voice = dataclasses.replace(TTS, reference_key=None)
    assert stage_logic.lane_of(accepted(CLONE)) == stage_logic.ENROL_LANE
    assert stage_logic.lane_of(accepted(TTS)) == stage_logic.ENROL_LANE      # /v1 with an audio_ref
    assert stage_logic.lane_of(accepted(in_a_saved_voice)) == stage_logic.SPEECH_LANE
    assert stage_logic.lane_of(stage_logic.started(CLONE)) == stage_logic.SPEECH_LANE   # nothing for a lane to run
    refused = msg.JobRejected(job_id="v1", account_id="a", kind="clone", job=CLONE, credits=0, need_credits=1000)
    assert stage_logic.lane_of(refused) == stage_logic.SPEECH_LANE   # its reference is forgotten in a moment


def test_the_enrolment_lane_buffers_a_long_backlog_before_faust_stops_fetching_the_jobs_partition():
    """Every jobs-topic event reaches both lanes; Faust stops fetching a partition once one agent's buffer is under
    high pressure. The enrolment lane, a minute a job, must not be the agent that stops the speech lane."""
    from streams import orchestrator
    from streams.app import app, settings

    default = app.conf.stream_buffer_maxsize
    enrolment_lane, speech_lane = orchestrator.orchestrate_enrolments.channel, orchestrator.orchestrate.channel
    assert enrolment_lane.get_topic_name() == speech_lane.get_topic_name()
    assert speech_lane.maxsize is None   # Faust's default buffer: the speech lane keeps up
    assert enrolment_lane.maxsize == settings.enrol_lane_buffer >= 10 * default
    # the buffer each actor reads is a clone of the agent's channel: the clone keeps the depth
    assert enrolment_lane.clone(is_iterator=True).maxsize == settings.enrol_lane_buffer
