"""The voice API's pure parts, without services: upload checks, form and query schemas, list queries and items,
the voice views the projector writes, and the clone stage's failure reasons."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from adapters import mongo
from frontdoor import uploads, voices
from inference_client import InferenceError
from schemas import api, jobs
from schemas import messages as msg
from streams import projection_logic as projection
from streams import stage_logic
from tests import voice_audio

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
CLONE_JOB = {"kind": "clone", "jobId": "clv1", "accountId": "acct_a", "voiceId": "clv1", "title": "Mine",
             "description": None, "coverImage": "https://example.com/c.jpg", "tags": ["calm"], "duration": 12.5,
             "referenceKey": "voices/acct_a/clv1/reference.mp3", "referenceMimeType": "audio/mpeg",
             "creditsUsed": 1000, "createdAt": "2026-01-02T03:04:05.000Z"}


# --- upload checks ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm", "ogg"])
def test_sniff_and_probe_each_format(fmt):
    data = voice_audio.encode(voice_audio.tone(3.0, rate=22050), 22050, fmt)
    kind = uploads.sniff_audio(data[:64])
    assert kind.name == fmt
    stream = io.BytesIO(data)
    assert abs(uploads.probe_duration(stream, kind) - 3.0) < 0.1
    assert stream.tell() == 0


def test_probe_finds_the_duration_of_a_webm_without_one_in_its_header():
    import av

    # Like a browser's MediaRecorder: a live (unseekable) muxer writes no Duration element.
    class Unseekable(io.RawIOBase):
        def __init__(self):
            self.buffer = bytearray()

        def writable(self):
            return True

        def write(self, b):
            self.buffer += bytes(b)
            return len(b)

    sink = Unseekable()
    samples = voice_audio.tone(2.5, rate=48000)
    with av.open(sink, mode="w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype("<i2")[None, :], format="s16", layout="mono")
        frame.sample_rate = 48000
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            container.mux(packet)
    data = bytes(sink.buffer)
    duration = uploads.probe_duration(io.BytesIO(data), uploads.sniff_audio(data))
    assert abs(duration - 2.5) < 0.1


@pytest.mark.parametrize("data", [b"plain text named .mp3", b"", b"RIFF\x00\x00\x00\x00AVI ", b"\xff\xf1\x50\x80"])
def test_sniff_refuses_what_is_not_audio(data):
    assert uploads.sniff_audio(data) is None


def test_probe_refuses_magic_without_audio():
    kind = uploads.sniff_audio(b"RIFF\x00\x10\x00\x00WAVE")
    assert uploads.probe_duration(io.BytesIO(b"RIFF\x00\x10\x00\x00WAVEfmt " + b"\xff" * 64), kind) is None


def _multipart_request(file_bytes: int, chunked: bool = False) -> Request:
    builder = EnvironBuilder(method="POST", data={"voice": (io.BytesIO(b"\x00" * file_bytes), "v.wav"),
                                                  "title": "t"})
    environ = builder.get_environ()
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input_terminated"] = True
    request = Request(environ)
    request.form_data_parser_class = uploads.CappedFormDataParser
    request.max_content_length = uploads.MAX_BODY_BYTES
    return request


def test_capped_parser_spools_a_file_under_the_limit():
    request = _multipart_request(2 * 1024 * 1024)
    upload = request.files["voice"]
    assert isinstance(upload.stream, uploads.CappedSpool)
    assert uploads.file_size(upload.stream) == 2 * 1024 * 1024
    assert upload.stream._rolled  # past 1 MiB it lives on disk, not in memory
    assert request.form["title"] == "t"


@pytest.mark.parametrize("chunked", [False, True])
def test_capped_parser_stops_past_20_mb(chunked):
    request = _multipart_request(api.MAX_VOICE_FILE_BYTES + 1, chunked=chunked)
    with pytest.raises(uploads.FileTooLarge):
        request.form  # noqa: B018  (parsing happens on access)


# --- the form schema --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, tags", [
    ('["male","energetic"]', ["male", "energetic"]),
    ("male, energetic", ["male", "energetic"]),
    (" a ,, b ,A ", ["a", "b"]),
    ('"solo"', ["solo"]),
    ("", []),
    ("[]", []),
])
def test_tags_as_json_array_or_comma_separated(raw, tags):
    assert api.parse_tags(raw) == tags


@pytest.mark.parametrize("raw", ['["a",', "[1]", '{"a": "b"}', "[null]", json.dumps(["x"] * 1 + [f"t{i}" for i in
                                                                                           range(20)]),
                                 "y" * 51, '["bad\\u0007tag"]'])
def test_bad_tags(raw):
    with pytest.raises(ValidationError):
        api.parse_tags(raw)


def _form(**values):
    return api.VoiceCloneFormSchema().load({"voice": object(), **values})


def test_form_defaults_and_blank_fields():
    loaded = _form(title="  ", description="", coverImage=" ", tags=" ")
    assert loaded["title"] is None and loaded["description"] is None and loaded["coverImage"] is None
    assert loaded["tags"] == []
    assert _form(title="  Spaced  ")["title"] == "Spaced"


@pytest.mark.parametrize("values, field", [
    ({"description": "d" * 501}, "description"),
    ({"title": "t" * 101}, "title"),
    ({"title": "line\nbreak"}, "title"),
    ({"coverImage": "ftp://example.com/x.jpg"}, "coverImage"),
    ({"coverImage": "//example.com/x.jpg"}, "coverImage"),
    ({"coverImage": "http://" + "a" * 2050 + ".com"}, "coverImage"),
    ({"coverImage": "https://u:p@example.com/x.jpg"}, "coverImage"),
    ({"tags": "[1,2]"}, "tags"),
])
def test_form_validation(values, field):
    with pytest.raises(ValidationError) as exc:
        _form(**values)
    assert field in exc.value.messages


def test_form_requires_the_file():
    with pytest.raises(ValidationError) as exc:
        api.VoiceCloneFormSchema().load({"title": "x"})
    assert exc.value.messages == {"voice": ["voice file is required (MP3, WAV or WebM, max 20MB)"]}


def test_cover_image_is_stored_as_given():
    url = "https://cdn.example.com/covers/a%20b.jpg?size=large#top"
    assert _form(coverImage=url)["coverImage"] == url
    assert _form(coverImage="http://localhost:8080/c.png")["coverImage"] == "http://localhost:8080/c.png"


def test_generated_title():
    assert voices.default_title(NOW) == "Voice 2026-01-02 03:04"


# --- the list ---------------------------------------------------------------------------------------------------

def test_query_defaults_and_bounds():
    schema = api.VoiceListQuerySchema()
    assert schema.load({}) == {"page": 1, "limit": 20, "sortBy": "createdAt", "sortOrder": "desc"}
    for bad in ({"page": "0"}, {"limit": "0"}, {"limit": "101"}, {"status": "DONE"}, {"type": "ALL"},
                {"sortBy": "name"}, {"sortOrder": "ASC"}, {"page": "1.5"}):
        with pytest.raises(ValidationError):
            schema.load(bad)


@pytest.mark.parametrize("status, voice_type, branches", [
    (None, None, 6), ("COMPLETED", None, 2), (None, "USER", 3), (None, "SYSTEM", 3), ("FAILED", "USER", 1),
])
def test_list_query_is_equality_branches(status, voice_type, branches):
    query = mongo.voice_list_query("acct_a", status, voice_type)
    parts = query["$or"] if "$or" in query else [query]
    assert len(parts) == branches
    for part in parts:
        assert part["status"] in (status,) if status else part["status"] in mongo.LISTED_VOICE_STATUSES
        assert (part["accountId"], part["type"]) in (("acct_a", "USER"), (None, "SYSTEM"))
        if part["type"] == "SYSTEM":
            assert part["isPublic"] is True
    assert "REJECTED" not in json.dumps(query)


def test_pagination():
    assert voices.pagination(1, 20, 0) == {"page": 1, "limit": 20, "total": 0, "totalPages": 0, "hasNext": False,
                                           "hasPrev": False}
    assert voices.pagination(2, 2, 5) == {"page": 2, "limit": 2, "total": 5, "totalPages": 3, "hasNext": True,
                                          "hasPrev": True}
    assert voices.pagination(3, 2, 5)["hasNext"] is False


def test_voice_item_shapes():
    user = {"_id": "clv1", **jobs.clone_job_view(CLONE_JOB, NOW), "state": "FAILED", "status": "FAILED",
            "error": "The reference audio is silent", "usedByJobs": ["x"]}
    item = voices.voice_item(user, lambda key: f"https://s3/{key}?sig")
    assert item["audioUrl"] == "https://s3/voices/acct_a/clv1/reference.mp3?sig"
    assert item["error"] == "The reference audio is silent"
    assert (item["type"], item["isPublic"], item["usageCount"], item["popularity"]) == ("USER", False, 0, 0)
    assert item["createdAt"] == "2026-01-02T03:04:05.000Z"
    system = {"_id": "sys_slt", "type": "SYSTEM", "isPublic": True, "status": "COMPLETED", "title": "Sally",
              "audioKey": None, "createdAt": NOW, "updatedAt": NOW}
    item = voices.voice_item(system, lambda key: pytest.fail("system voices have no audio"))
    assert item["audioUrl"] is None and "error" not in item and item["tags"] == []


# --- voice views and the clone stage ----------------------------------------------------------------------------

def test_voice_status_hides_refused_clones():
    assert [jobs.voice_status(s) for s in (jobs.PENDING_CREDITS, jobs.QUEUED, jobs.PROCESSING, jobs.COMPLETED,
                                           jobs.FAILED, jobs.REJECTED)] == \
        ["PROCESSING", "PROCESSING", "PROCESSING", "COMPLETED", "FAILED", "REJECTED"]


def test_clone_events_project_onto_the_voice():
    job = msg.CloneJob.from_dict({**CLONE_JOB, "referenceFormat": "mp3", "referenceBytes": 1000})
    accepted = msg.JobAccepted(job_id="clv1", account_id="acct_a", kind="clone", job=job)
    assert projection.is_clone_event(accepted)
    fields, seed = projection.voice_view_fields(accepted, NOW)
    assert seed["title"] == "Mine" and seed["audioKey"] == CLONE_JOB["referenceKey"] and seed["type"] == "USER"
    assert seed["createdAt"] == NOW and seed["usageCount"] == 0
    done = msg.JobCompleted(job_id="clv1", account_id="acct_a", kind="clone",
                            result=msg.VoiceResult(engine_voice="awb", profile={"version": 1}, enrolled_duration=3.0))
    fields, _ = projection.voice_view_fields(done, NOW)
    assert fields["engineVoice"] == "awb" and fields["profile"] == {"version": 1} and fields["error"] is None
    failed = msg.JobFailed(job_id="clv1", account_id="acct_a", kind="clone", reason="boom")
    assert projection.voice_view_fields(failed, NOW)[0]["error"] == "boom"
    tts = msg.JobCompleted(job_id="s1", account_id="acct_a", kind="tts", result=msg.SpeechResult(
        audio_key="k", duration=1.0, mime_type="audio/mpeg", format="mp3", voice_id="clv1"))
    assert not projection.is_clone_event(tts)


def test_clone_failure_reasons():
    unusable = InferenceError("the reference audio is silent (nothing louder than -50 dBFS)", code="audio_silent")
    assert stage_logic.clone_failure_reason(unusable).startswith("The reference audio is silent")
    down = InferenceError("the inference server is unavailable (enroll): x", code="unavailable", retryable=True)
    assert stage_logic.clone_failure_reason(down).startswith("Voice cloning failed: ")
