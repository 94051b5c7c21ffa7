"""The notifier's public events match the machine-readable contract published for outside consumers."""
import json
from pathlib import Path

import jsonschema
import pytest

from schemas import messages as msg
from streams import completion_logic as completions

SPEC = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "completions.asyncapi.json").read_text())


def _validator(schema_name: str):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(schema)


def public_event(job_event: msg.Message):
    envelope = job_event.envelope()
    return completions.public_envelope(envelope, completions.public_message(job_event))


TIMINGS = msg.StageTimings(created_at="2026-01-01T00:00:00.000Z", started_at="2026-01-01T00:00:01.000Z",
                           finished_at="2026-01-01T00:00:03.000Z", queued_ms=1000, run_ms=2000)
COMPLETED = msg.JobCompleted(job_id="cl1", account_id="a", kind="tts", credits_used=2, timings=TIMINGS,
                             request_id="req-1", result=msg.SpeechResult(
                                 audio_key="k", duration=1.25, mime_type="audio/mpeg", format="mp3",
                                 voice_id="sys_slt"))


def test_completed_event_matches_the_contract():
    _validator("SpeechCompletedEnvelope").validate(public_event(COMPLETED).to_dict())


def test_failed_event_matches_the_contract():
    job_event = msg.JobFailed(job_id="cl1", account_id="a", kind="tts", reason="synthesis failed")
    _validator("SpeechFailedEnvelope").validate(public_event(job_event).to_dict())


def test_refused_jobs_events_match_the_contract():
    tts = msg.TtsJob(job_id="cl1", account_id="a", text="hi", format="mp3",
                     voice=msg.VoiceSummary(id="sys_slt", title="Sally", cover_image=None, type="SYSTEM"),
                     engine_voice="slt", profile=None, credits_used=2, created_at="2026-01-01T00:00:00.000Z")
    refused = msg.JobRejected(job_id="cl1", account_id="a", kind="tts", job=tts, credits=0, need_credits=2)
    _validator("SpeechFailedEnvelope").validate(public_event(refused).to_dict())


def test_voice_events_match_the_contract():
    ready = msg.JobCompleted(job_id="v1", account_id="a", kind="clone", credits_used=1000, timings=TIMINGS,
                             result=msg.VoiceResult(engine_voice="awb", profile={"version": 2}, enrolled_duration=9.5,
                                                    reference_key="voices/a/v1.wav"))
    _validator("VoiceReadyEnvelope").validate(public_event(ready).to_dict())
    failed = msg.JobFailed(job_id="v1", account_id="a", kind="clone", reason="Audio too short")
    _validator("VoiceFailedEnvelope").validate(public_event(failed).to_dict())


def test_the_contract_rejects_what_consumers_must_not_receive():
    body = public_event(COMPLETED).to_dict()
    body["payload"]["profile"] = {"embedding": [0.1]}  # a voice's profile never leaves the service
    with pytest.raises(jsonschema.ValidationError):
        _validator("SpeechCompletedEnvelope").validate(body)
    body = public_event(COMPLETED).to_dict()
    body["version"] = 1  # a version-2 payload under another version number
    with pytest.raises(jsonschema.ValidationError):
        _validator("SpeechCompletedEnvelope").validate(body)
