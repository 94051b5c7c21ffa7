"""The notifier's public events match the machine-readable contract published for outside consumers."""
import json
from pathlib import Path

import jsonschema
import pytest

from schemas import events as ev
from streams import notifier

SPEC = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "completions.asyncapi.json").read_text())


def _validator(schema_name: str):
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_completed_event_matches_the_contract():
    job_event = ev.Event(ev.JOB_COMPLETED, {"jobId": "cl1", "accountId": "a", "kind": "tts", "format": "mp3",
                                            "duration": 1.25, "mimeType": "audio/mpeg", "audioKey": "k"})
    _validator("SpeechCompletedEnvelope").validate(notifier.public_event(job_event).to_dict())


def test_failed_event_matches_the_contract():
    job_event = ev.Event(ev.JOB_FAILED, {"jobId": "cl1", "accountId": "a", "kind": "tts", "reason": "synthesis failed"})
    _validator("SpeechFailedEnvelope").validate(notifier.public_event(job_event).to_dict())


def test_the_contract_rejects_what_consumers_must_not_receive():
    job_event = ev.Event(ev.JOB_COMPLETED, {"jobId": "cl1", "accountId": "a", "kind": "tts", "format": "mp3",
                                            "duration": 1.25, "mimeType": "audio/mpeg"})
    body = notifier.public_event(job_event).to_dict()
    body["payload"]["audioKey"] = "speeches/a/cl1.mp3"  # storage layout is not part of the contract
    with pytest.raises(jsonschema.ValidationError):
        _validator("SpeechCompletedEnvelope").validate(body)
