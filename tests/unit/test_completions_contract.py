"""The notifier's public events match the machine-readable contract published for outside consumers."""
import json
from pathlib import Path

import jsonschema
import pytest

from schemas import messages as msg
from streams import projection_logic as projection

SPEC = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "completions.asyncapi.json").read_text())


def _validator(schema_name: str):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(schema)


def public_event(job_event: msg.Message):
    envelope = job_event.envelope()
    return projection.public_envelope(envelope, projection.public_message(job_event))


COMPLETED = msg.JobCompleted(job_id="cl1", account_id="a", kind="tts", result=msg.SpeechResult(
    audio_key="k", duration=1.25, mime_type="audio/mpeg", format="mp3", voice_id="sys_slt"))


def test_completed_event_matches_the_contract():
    _validator("SpeechCompletedEnvelope").validate(public_event(COMPLETED).to_dict())


def test_failed_event_matches_the_contract():
    job_event = msg.JobFailed(job_id="cl1", account_id="a", kind="tts", reason="synthesis failed")
    _validator("SpeechFailedEnvelope").validate(public_event(job_event).to_dict())


def test_the_contract_rejects_what_consumers_must_not_receive():
    body = public_event(COMPLETED).to_dict()
    body["payload"]["audioKey"] = "speeches/a/cl1.mp3"  # storage layout is not part of the contract
    with pytest.raises(jsonschema.ValidationError):
        _validator("SpeechCompletedEnvelope").validate(body)
