"""Voices end to end on the real stack: POST /api/v1/voice-clone → S3 → Kafka → ledger → orchestrator (Triton
`enroll`) → MongoDB voice view; GET /api/v1/voices; TTS with a cloned voice (Triton `synthesize` with PROFILE).

The seed's own examples (its curl and Python `requests` snippets) are replayed as written, then every validation
rule, the credit rules (429 shape, refund of a failed clone) and tenant isolation.
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
import requests

from tests import voice_audio

from .conftest import error_body, wait_for

pytestmark = pytest.mark.integration

MB = 1024 * 1024
INVALID_TYPE = {"code": "INVALID_PARAMETERS", "error": "Invalid file type. Supported formats: MP3, WAV, WebM"}
TOO_LARGE = {"code": "INVALID_PARAMETERS", "error": "File size exceeds 20MB limit"}
CLONE_KEYS = {"id", "title", "description", "coverImage", "audioUrl", "duration", "tags", "createdAt"}
LIST_KEYS = {"id", "title", "description", "coverImage", "audioUrl", "duration", "status", "type", "isPublic",
             "popularity", "tags", "usageCount", "createdAt", "updatedAt"}


# --- helpers ----------------------------------------------------------------------------------------------------

def new_account(base_url, name: str, credits: int) -> dict:
    from frontdoor import admin

    issued = admin.create_account_with_key(name=name, credits=credits)
    headers = {"Authorization": f"Bearer {issued.api_key}"}
    wait_for(lambda: balance(base_url, headers) == credits, 60, f"{name}'s {credits} credits to show")
    return headers


def account_id_of(db, headers) -> str:
    from frontdoor.auth import hash_key

    return db.api_keys.find_one({"keyHash": hash_key(headers["Authorization"].split()[1])})["accountId"]


def balance(base_url, headers) -> int:
    return requests.get(f"{base_url}/api/v1/credits", headers=headers, timeout=5).json()["credits"]


def clone(base_url, headers, audio: bytes | None, filename: str = "voice.mp3", data: dict | None = None,
          content_type: str = "application/octet-stream"):
    files = {"voice": (filename, audio, content_type)} if audio is not None else None
    return requests.post(f"{base_url}/api/v1/voice-clone", headers=headers, files=files, data=data or {},
                         timeout=60)


def list_voices(base_url, headers, **params) -> requests.Response:
    return requests.get(f"{base_url}/api/v1/voices", headers=headers, params=params, timeout=10)


def find_voice(base_url, headers, voice_id: str) -> dict | None:
    body = list_voices(base_url, headers, type="USER", limit=100).json()
    return next((v for v in body["voices"] if v["id"] == voice_id), None)


def wait_voice(base_url, headers, voice_id: str, timeout_s: float = 90) -> dict:
    def finished():
        voice = find_voice(base_url, headers, voice_id)
        return voice if voice and voice["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(finished, timeout_s, f"voice {voice_id} to finish", interval_s=0.3)


def wait_speech(base_url, headers, speech_id: str, timeout_s: float = 90) -> dict:
    def finished():
        body = requests.get(f"{base_url}/api/v1/tts/{speech_id}", headers=headers, timeout=5).json()
        return body["speech"] if body["speech"]["status"] in ("COMPLETED", "FAILED") else None

    return wait_for(finished, timeout_s, f"speech {speech_id} to finish", interval_s=0.3)


@pytest.fixture(scope="module")
def alice(base_url, app_processes):
    return new_account(base_url, "alice", 30_000)


@pytest.fixture(scope="module")
def bob(base_url, app_processes):
    return new_account(base_url, "bob", 5_000)


@pytest.fixture(scope="module")
def reference_wav():
    return voice_audio.flite_wav(voice="awb")


@pytest.fixture(scope="module")
def alice_voice(base_url, alice, reference_wav):
    """A COMPLETED voice of Alice's, from an MP3 of flite's awb."""
    resp = clone(base_url, alice, voice_audio.convert(reference_wav, "mp3"), data={"title": "Alice's voice"})
    assert resp.status_code == 200, resp.text
    voice = wait_voice(base_url, alice, resp.json()["voiceId"])
    assert voice["status"] == "COMPLETED", voice
    return voice


# --- the seed's examples ----------------------------------------------------------------------------------------

def test_seed_python_example_clones_a_voice_and_lists_it(base_url, alice, reference_wav, tmp_path):
    path = tmp_path / "voice.mp3"
    path.write_bytes(voice_audio.convert(reference_wav, "mp3"))
    headers = {"Authorization": alice["Authorization"]}
    with open(path, "rb") as handle:  # exactly the seed's Python snippet
        files = {'voice': handle}
        data = {'title': 'My Voice Clone', 'description': 'A custom voice', 'tags': '["male","energetic"]'}
        response = requests.post(f"{base_url}/api/v1/voice-clone", headers=headers, files=files, data=data,
                                 timeout=60)
    response.raise_for_status()
    result = response.json()
    assert response.status_code == 200
    assert set(result) == {"success", "voiceId", "voice"} and result["success"] is True
    voice = result["voice"]
    assert set(voice) == CLONE_KEYS
    assert voice["id"] == result["voiceId"]
    assert (voice["title"], voice["description"], voice["tags"]) == ("My Voice Clone", "A custom voice",
                                                                     ["male", "energetic"])
    assert voice["coverImage"] is None
    samples, rate = voice_audio.read_wav(reference_wav)
    assert abs(voice["duration"] - len(samples) / rate) < 0.15, voice["duration"]
    assert datetime.fromisoformat(voice["createdAt"].replace("Z", "+00:00")) > datetime.now(timezone.utc) - \
        timedelta(minutes=5)
    assert voice["createdAt"].endswith("Z")
    # The audio URL is a working presigned URL of exactly what was uploaded (stored under the account).
    stored = requests.get(voice["audioUrl"], timeout=10)
    assert stored.status_code == 200 and stored.content == path.read_bytes()
    assert "/voices/" in voice["audioUrl"] and "reference.mp3" in voice["audioUrl"]
    # PROCESSING right away (or already done), then COMPLETED.
    assert find_voice(base_url, headers, result["voiceId"])["status"] in ("PROCESSING", "COMPLETED")
    done = wait_voice(base_url, headers, result["voiceId"])
    assert done["status"] == "COMPLETED", done

    # The seed's list example: get_voices(page=1, limit=20, status="COMPLETED").
    params = {"page": 1, "limit": 20, "status": "COMPLETED"}
    listed = requests.get(f"{base_url}/api/v1/voices", headers=headers, params=params, timeout=10)
    listed.raise_for_status()
    body = listed.json()
    assert set(body) == {"success", "voices", "pagination"} and body["success"] is True
    assert set(body["pagination"]) == {"page", "limit", "total", "totalPages", "hasNext", "hasPrev"}
    assert all(v["status"] == "COMPLETED" for v in body["voices"])
    mine = next(v for v in body["voices"] if v["id"] == result["voiceId"])
    assert set(mine) == LIST_KEYS
    assert (mine["type"], mine["isPublic"], mine["popularity"], mine["usageCount"]) == ("USER", False, 0, 0)
    assert mine["title"] == "My Voice Clone" and mine["tags"] == ["male", "energetic"]
    assert requests.get(mine["audioUrl"], timeout=10).content == path.read_bytes()
    assert {v["type"] for v in body["voices"]} == {"USER", "SYSTEM"}  # system voices are listed too
    assert all(v["audioUrl"] is None for v in body["voices"] if v["type"] == "SYSTEM")


def test_seed_curl_basic_voice_only_gets_a_generated_title(base_url, alice, reference_wav):
    resp = clone(base_url, alice, reference_wav, filename="voice.wav")  # curl -F "voice=@/path/to/voice.wav"
    assert resp.status_code == 200, resp.text
    voice = resp.json()["voice"]
    assert voice["title"].startswith("Voice 20"), voice["title"]
    assert voice["description"] is None and voice["coverImage"] is None and voice["tags"] == []
    assert wait_voice(base_url, alice, voice["id"])["status"] == "COMPLETED"


def test_seed_curl_with_metadata(base_url, alice, reference_wav):
    data = {"title": "My Voice Clone", "description": "A custom voice description",
            "coverImage": "https://example.com/cover.jpg", "tags": '["male","young","energetic"]'}
    resp = clone(base_url, alice, voice_audio.convert(reference_wav, "mp3"), data=data)
    assert resp.status_code == 200, resp.text
    voice = resp.json()["voice"]
    assert voice["coverImage"] == "https://example.com/cover.jpg"
    assert voice["tags"] == ["male", "young", "energetic"]
    listed = wait_voice(base_url, alice, voice["id"])
    assert listed["coverImage"] == "https://example.com/cover.jpg" and listed["description"] == data["description"]


def test_comma_separated_tags(base_url, alice, reference_wav):
    resp = clone(base_url, alice, reference_wav, filename="v.wav", data={"tags": " calm, deep ,calm,, Narrator"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["voice"]["tags"] == ["calm", "deep", "Narrator"]


@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm", "ogg"])
def test_each_format_is_recognised_by_content_and_enrolled(base_url, alice, reference_wav, fmt):
    audio = voice_audio.convert(reference_wav, fmt)
    # A misleading name and part type: the content decides.
    resp = clone(base_url, alice, audio, filename="recording.bin", content_type="text/plain")
    assert resp.status_code == 200, resp.text
    voice = resp.json()["voice"]
    samples, rate = voice_audio.read_wav(reference_wav)
    assert abs(voice["duration"] - len(samples) / rate) < 0.15, (fmt, voice["duration"])
    assert voice["audioUrl"].split("?")[0].endswith(f"reference.{fmt}")
    assert wait_voice(base_url, alice, voice["id"])["status"] == "COMPLETED"


# --- validation -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [
    b"This is just text pretending to be an MP3 file.\n" * 20,
    b"",
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 100,
    b"RIFF\x24\x00\x00\x00AVI LIST" + b"\x00" * 100,
    b"%PDF-1.4\n" + b"x" * 100,
])
def test_wrong_file_type_is_refused_by_content(base_url, alice, content):
    before = balance(base_url, alice)
    resp = clone(base_url, alice, content, filename="voice.mp3", content_type="audio/mpeg")
    assert resp.status_code == 400
    assert error_body(resp) == INVALID_TYPE
    assert balance(base_url, alice) == before


def test_audio_magic_without_readable_audio_is_refused(base_url, alice):
    resp = clone(base_url, alice, b"RIFF\x00\x10\x00\x00WAVEfmt " + b"\xff" * 200, filename="x.wav")
    assert resp.status_code == 400
    assert resp.json()["code"] == "INVALID_PARAMETERS" and "could not be read" in resp.json()["error"]


def _multipart(boundary: str, size: int, chunk: int = 256 * 1024):
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"voice\"; filename=\"big.wav\"\r\n"
           f"Content-Type: audio/wav\r\n\r\n").encode()
    header = b"RIFF\xff\xff\xff\xffWAVE"
    yield header
    sent = len(header)
    block = b"\x00" * chunk
    while sent < size:
        piece = block[: min(chunk, size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{boundary}--\r\n".encode()


def test_25_mb_with_content_length_is_the_seeds_400_not_413(base_url, alice):
    resp = clone(base_url, alice, b"RIFF\xff\xff\xff\xffWAVE" + b"\x00" * (25 * MB), filename="big.wav")
    assert resp.status_code == 400
    assert error_body(resp) == TOO_LARGE


def test_file_just_over_20_mb_inside_the_body_allowance_is_counted_and_refused(base_url, alice):
    resp = clone(base_url, alice, b"RIFF\xff\xff\xff\xffWAVE" + b"\x00" * (20 * MB - 11), filename="big.wav")
    assert resp.status_code == 400
    assert error_body(resp) == TOO_LARGE


def test_25_mb_chunked_without_content_length_is_refused(base_url, alice):
    boundary = "voiceforgeboundary"
    headers = {**alice, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    resp = requests.post(f"{base_url}/api/v1/voice-clone", headers=headers, data=_multipart(boundary, 25 * MB),
                         timeout=60)
    assert "Content-Length" not in resp.request.headers and resp.request.headers["Transfer-Encoding"] == "chunked"
    assert resp.status_code == 400
    assert error_body(resp) == TOO_LARGE


@pytest.mark.parametrize("data, message", [
    ({"description": "x" * 501}, "description: Description exceeds maximum length of 500 characters"),
    ({"title": "t" * 101}, "title: Title exceeds maximum length of 100 characters"),
    ({"coverImage": "ftp://example.com/cover.jpg"}, "coverImage: coverImage must be an http or https URL"),
    ({"coverImage": "javascript:alert(1)"}, "coverImage: coverImage must be an http or https URL"),
    ({"coverImage": "not a url"}, "coverImage: coverImage must be an http or https URL"),
    ({"coverImage": "https://user:secret@example.com/c.jpg"}, "coverImage: coverImage must not contain credentials"),
    ({"coverImage": "https://example.com/" + "a" * 2100}, "coverImage: coverImage must be at most 2048 characters"),
    ({"tags": '["male",'}, "tags: tags must be a JSON array of strings or a comma-separated string"),
    ({"tags": "[1, 2]"}, "tags: tags must be a JSON array of strings or a comma-separated string"),
    ({"tags": '{"a": 1}'}, "tags: tags must be a JSON array of strings or a comma-separated string"),
    ({"tags": json.dumps([f"t{i}" for i in range(21)])}, "tags: at most 20 tags are allowed"),
    ({"tags": "x" * 51}, "tags: each tag must be at most 50 characters"),
])
def test_invalid_metadata_is_refused(base_url, alice, reference_wav, data, message):
    before = balance(base_url, alice)
    resp = clone(base_url, alice, reference_wav, filename="v.wav", data=data)
    assert resp.status_code == 400, resp.text
    assert error_body(resp) == {"code": "INVALID_PARAMETERS", "error": message}
    assert balance(base_url, alice) == before


def test_description_of_exactly_500_chars_is_fine(base_url, alice, reference_wav):
    resp = clone(base_url, alice, reference_wav, filename="v.wav", data={"description": "d" * 500})
    assert resp.status_code == 200, resp.text


def test_missing_voice_file_is_refused(base_url, alice):
    resp = clone(base_url, alice, None, data={"title": "no file"})
    assert resp.status_code == 400
    assert error_body(resp) == {"code": "INVALID_PARAMETERS",
                           "error": "voice: voice file is required (MP3, WAV or WebM, max 20MB)"}
    resp = clone(base_url, alice, None, data={"voice": "not a file"})
    assert resp.status_code == 400 and resp.json()["code"] == "INVALID_PARAMETERS"


def test_clone_needs_an_api_key(base_url, reference_wav):
    resp = requests.post(f"{base_url}/api/v1/voice-clone", files={"voice": reference_wav}, timeout=30)
    assert resp.status_code == 401
    assert error_body(resp) == {"code": "UNAUTHORIZED", "error": "Authentication required"}
    assert requests.get(f"{base_url}/api/v1/voices", timeout=10).status_code == 401


@pytest.mark.parametrize("params", [
    {"page": 0}, {"page": -1}, {"page": "abc"}, {"page": "1.5"}, {"limit": 0}, {"limit": 101}, {"limit": "x"},
    {"status": "DONE"}, {"status": "completed"}, {"type": "OTHER"}, {"sortBy": "name"}, {"sortBy": ""},
    {"sortOrder": "up"},
])
def test_list_parameters_out_of_bounds_are_refused(base_url, alice, params):
    resp = list_voices(base_url, alice, **params)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == "INVALID_PARAMETERS" and next(iter(params)) in body["error"], body


def test_list_parameter_bounds_are_accepted(base_url, alice):
    for params in ({"page": 1, "limit": 1}, {"limit": 100}, {"sortBy": "popularity", "sortOrder": "asc"},
                   {"sortBy": "duration"}, {"sortBy": "updatedAt"}, {"sortBy": "title"}, {"status": "FAILED"},
                   {"status": "PROCESSING"}, {"type": "SYSTEM"}):
        resp = list_voices(base_url, alice, **params)
        assert resp.status_code == 200, (params, resp.text)


# --- credits ----------------------------------------------------------------------------------------------------

def test_insufficient_credits_is_429_with_the_seeds_shape(base_url, app_processes, reference_wav):
    poor = new_account(base_url, "poor-cloner", 500)
    resp = clone(base_url, poor, reference_wav, filename="v.wav", data={"title": "too expensive"})
    assert resp.status_code == 429, resp.text
    assert error_body(resp) == {"error": "Insufficient credits", "code": "USAGE_LIMIT_EXCEEDED", "credits": 500,
                           "needCredits": 1000}
    listed = list_voices(base_url, poor, type="USER").json()
    assert listed["voices"] == [] and listed["pagination"]["total"] == 0
    assert balance(base_url, poor) == 500


@pytest.mark.parametrize("name, samples, reason", [
    ("silent", voice_audio.silence(6.0), "silent"),
    ("too short", np.concatenate([voice_audio.silence(1.0), voice_audio.tone(1.5), voice_audio.silence(3.0)]),
     "at least 2 s"),
    ("clipped", np.clip(voice_audio.tone(5.0, amplitude=4.0), -1, 1), "clipped"),
    ("noise", (np.random.default_rng(1).standard_normal(16000 * 5) * 0.1).astype("float32"),
     "no clear voice"),
])
def test_unusable_reference_fails_with_a_reason_and_credits_come_back(base_url, app_processes, name, samples,
                                                                       reason):
    headers = new_account(base_url, f"unlucky-{name}", 3_000)
    resp = clone(base_url, headers, voice_audio.encode(samples, 16000, "wav"), filename="ref.wav")
    assert resp.status_code == 200, resp.text  # accepted and charged (reserved) first: the model decides
    voice = wait_voice(base_url, headers, resp.json()["voiceId"])
    assert voice["status"] == "FAILED", voice
    assert reason in voice["error"].lower(), voice["error"]
    wait_for(lambda: balance(base_url, headers) == 3_000, 30, "the reserved 1000 credits to be released")
    # A FAILED voice cannot speak.
    tts = requests.post(f"{base_url}/api/v1/tts", headers=headers, json={"text": "Hello.", "voiceId": voice["id"]},
                        timeout=30)
    assert tts.status_code == 400
    assert error_body(tts) == {"code": "INVALID_PARAMETERS",
                          "error": "Voice cloning failed for this voice; it cannot be used for speech"}


def test_successful_clone_captures_1000_credits(base_url, app_processes, reference_wav):
    headers = new_account(base_url, "payer", 2_500)
    resp = clone(base_url, headers, reference_wav, filename="v.wav")
    assert resp.status_code == 200, resp.text
    assert wait_voice(base_url, headers, resp.json()["voiceId"])["status"] == "COMPLETED"
    wait_for(lambda: balance(base_url, headers) == 1_500, 30, "the 1000 credits to be captured")


# --- TTS with a cloned voice ------------------------------------------------------------------------------------

def test_tts_with_a_cloned_voice_speaks_at_the_references_pitch(base_url, alice):
    reference = voice_audio.espeak_wav(voice="en+f3") or voice_audio.flite_wav(voice="slt")
    ref_samples, ref_rate = voice_audio.read_wav(reference)
    ref_f0 = voice_audio.median_f0(ref_samples, ref_rate)
    resp = clone(base_url, alice, voice_audio.convert(reference, "webm"), filename="ref.webm",
                 data={"title": "Pitch test"})
    assert resp.status_code == 200, resp.text
    voice_id = resp.json()["voiceId"]
    assert wait_voice(base_url, alice, voice_id)["status"] == "COMPLETED"

    text = "Hello, this is a test speech in my own cloned voice. How does it sound to you?"
    spoken = {}
    for voice in (voice_id, "sys_slt"):
        tts = requests.post(f"{base_url}/api/v1/tts", headers=alice,
                            json={"text": text, "voiceId": voice, "format": "wav"}, timeout=30)
        assert tts.status_code == 200, tts.text
        speech = wait_speech(base_url, alice, tts.json()["speechId"])
        assert speech["status"] == "COMPLETED", speech
        audio = requests.get(speech["audioUrl"], timeout=10).content
        samples, rate = voice_audio.read_wav(audio)
        assert abs(len(samples) / rate - speech["duration"]) < 0.1
        assert float(abs(samples).max()) > 0.05
        spoken[voice] = (speech, voice_audio.median_f0(samples, rate))
    speech, cloned_f0 = spoken[voice_id]
    assert speech["voice"] == {"id": voice_id, "title": "Pitch test", "coverImage": None, "type": "USER"}
    system_f0 = spoken["sys_slt"][1]
    # The cloned voice speaks at the reference's pitch (within two semitones: the conversion maps the mean of
    # log-F0, the check reads the median), measurably closer than the base voice's.
    assert abs(math.log(cloned_f0 / ref_f0)) < math.log(2 ** (2 / 12)), (cloned_f0, ref_f0, system_f0)
    assert abs(math.log(cloned_f0 / ref_f0)) < abs(math.log(system_f0 / ref_f0)), (cloned_f0, ref_f0, system_f0)
    # Each completed TTS use counts.
    wait_for(lambda: find_voice(base_url, alice, voice_id)["usageCount"] == 1, 30, "usageCount to reach 1")


def test_tts_refuses_a_voice_still_processing(base_url, alice, app_processes):
    from adapters import mongo
    from schemas import ids, jobs
    from service_config import load

    db = mongo.connect(load())
    account_id = account_id_of(db, alice)
    voice_id = ids.new_id()
    now = datetime.now(timezone.utc)
    job = {"jobId": voice_id, "accountId": account_id, "title": "Half-baked", "referenceKey": "voices/x/y.wav",
           "createdAt": now}
    mongo.apply_voice_transition(db, voice_id, jobs.PROCESSING, {}, jobs.clone_job_view(job, now))
    resp = requests.post(f"{base_url}/api/v1/tts", headers=alice, json={"text": "Hi.", "voiceId": voice_id},
                         timeout=30)
    assert resp.status_code == 400
    assert error_body(resp) == {"code": "INVALID_PARAMETERS",
                           "error": "Voice is not ready (status PROCESSING); wait until it is COMPLETED"}
    assert find_voice(base_url, alice, voice_id)["status"] == "PROCESSING"


# --- tenant isolation -------------------------------------------------------------------------------------------

def test_another_tenant_can_neither_see_nor_use_a_voice(base_url, alice, bob, alice_voice):
    listed = list_voices(base_url, bob, limit=100).json()
    assert alice_voice["id"] not in {v["id"] for v in listed["voices"]}
    assert {v["type"] for v in listed["voices"]} == {"SYSTEM"}
    mine = list_voices(base_url, bob, type="USER").json()
    assert mine["voices"] == [] and mine["pagination"]["total"] == 0
    tts = requests.post(f"{base_url}/api/v1/tts", headers=bob,
                        json={"text": "Borrowed voice.", "voiceId": alice_voice["id"]}, timeout=30)
    assert tts.status_code == 404
    assert error_body(tts) == {"code": "NOT_FOUND", "error": "Voice not found or not available"}
    assert balance(base_url, bob) == 5_000
    # Alice still sees and uses it.
    assert find_voice(base_url, alice, alice_voice["id"]) is not None


# --- listing: pagination, filters, sorting -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def catalogue(base_url, app_processes):
    """An account whose voice views are written straight into MongoDB (as the projector would), to test the
    list's paging and sorting without running eight clones."""
    from adapters import mongo
    from schemas import ids, jobs
    from service_config import load

    headers = new_account(base_url, "catalogue", 0)
    db = mongo.connect(load())
    account_id = account_id_of(db, headers)
    # Created now, not at a fixed past date: the session's sweeper fails an unfinished view older than
    # JOB_DEADLINE_S (20 min), and it once failed Foxtrot's PROCESSING view between the fixture and the filters.
    start = datetime.now(timezone.utc).replace(microsecond=0)
    rows = [("Delta", 12.5, jobs.COMPLETED), ("alpha", 30.0, jobs.COMPLETED), ("Charlie", 5.25, jobs.COMPLETED),
            ("Bravo", 60.0, jobs.COMPLETED), ("Echo", 8.0, jobs.FAILED), ("Foxtrot", 9.0, jobs.PROCESSING),
            ("Golf", 3.0, jobs.COMPLETED), ("Hidden", 4.0, jobs.REJECTED)]
    made = {}
    for i, (title, duration, state) in enumerate(rows):
        voice_id = ids.new_id()
        created = start + timedelta(minutes=i)
        job = {"jobId": voice_id, "accountId": account_id, "title": title, "duration": duration,
               "referenceKey": f"voices/{account_id}/{voice_id}/reference.wav", "createdAt": created}
        fields = {"error": "The reference audio is silent"} if state == jobs.FAILED else {}
        mongo.apply_voice_transition(db, voice_id, state, fields, jobs.clone_job_view(job, created))
        made[title] = voice_id
    return headers, made


def test_list_pages_through_user_voices_without_overlap(base_url, catalogue):
    headers, made = catalogue
    seen = []
    for page in (1, 2, 3, 4):
        body = list_voices(base_url, headers, type="USER", limit=2, page=page).json()
        p = body["pagination"]
        assert (p["page"], p["limit"], p["total"], p["totalPages"]) == (page, 2, 7, 4)
        assert p["hasPrev"] is (page > 1) and p["hasNext"] is (page < 4)
        seen += [v["id"] for v in body["voices"]]
    assert len(seen) == 7 == len(set(seen)) and made["Hidden"] not in seen  # a refused clone is never listed
    # Default order: createdAt, newest first.
    assert seen == [made[t] for t in ("Golf", "Foxtrot", "Echo", "Bravo", "Charlie", "alpha", "Delta")]
    beyond = list_voices(base_url, headers, type="USER", limit=2, page=9).json()
    assert beyond["voices"] == [] and beyond["pagination"]["hasNext"] is False
    assert beyond["pagination"]["hasPrev"] is True


def test_list_filters_and_sorts(base_url, catalogue):
    headers, made = catalogue
    def titles(**params):
        return [v["title"] for v in list_voices(base_url, headers, type="USER", **params).json()["voices"]]
    assert titles(sortBy="title", sortOrder="asc") == ["Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf",
                                                       "alpha"]
    assert titles(sortBy="duration", sortOrder="desc") == ["Bravo", "alpha", "Delta", "Foxtrot", "Echo", "Charlie",
                                                           "Golf"]
    assert titles(status="COMPLETED", sortBy="createdAt", sortOrder="asc") == ["Delta", "alpha", "Charlie", "Bravo",
                                                                                "Golf"]
    failed = list_voices(base_url, headers, status="FAILED").json()["voices"]
    assert [v["title"] for v in failed] == ["Echo"] and failed[0]["error"] == "The reference audio is silent"
    assert titles(status="PROCESSING") == ["Foxtrot"]
    everything = list_voices(base_url, headers, limit=100).json()
    from schemas.voices import system_voice_documents

    system_ids = {doc["_id"] for doc in system_voice_documents()}  # 54 Kokoro voices + the 4 flite fallbacks
    assert everything["pagination"]["total"] == 7 + len(system_ids)  # own voices + the public system voices
    system = list_voices(base_url, headers, type="SYSTEM", limit=100).json()["voices"]
    assert {v["id"] for v in system} == system_ids and {"sys_slt", "sys_awb", "sys_rms", "sys_kal"} <= system_ids
    by_id = {v["id"]: v for v in system}  # language and sex are in the tags (items keep the seed's fields)
    assert {"female", "en-us"} <= set(by_id["sys_af_heart"]["tags"]) and {"male", "zh"} <= set(
        by_id["sys_zm_yunxi"]["tags"])
    assert all(v["audioUrl"] is None and v["isPublic"] and v["status"] == "COMPLETED" for v in system)
    assert all(set(v) == LIST_KEYS for v in system)


def test_list_queries_are_served_by_indexes(catalogue):
    from adapters import mongo
    from service_config import load

    db = mongo.connect(load())

    def stages(plan) -> set[str]:
        found = {plan.get("stage")}
        for key in ("inputStage", "queryPlan"):
            if key in plan:
                found |= stages(plan[key])
        for child in plan.get("inputStages", []):
            found |= stages(child)
        return found

    for voice_type in (None, "USER", "SYSTEM"):
        for status in (None, "COMPLETED"):
            for field in mongo.VOICE_SORT_FIELDS:
                query = mongo.voice_list_query("acct_x", status, voice_type)
                explain = db.voices.find(query).sort([(field, -1), ("_id", -1)]).limit(20).explain()
                used = stages(explain["queryPlanner"]["winningPlan"])
                assert "SORT" not in used and "COLLSCAN" not in used, (voice_type, status, field, used)


# --- OpenAPI ----------------------------------------------------------------------------------------------------

def test_openapi_documents_the_multipart_form_and_the_query(base_url, app_processes):
    spec = requests.get(f"{base_url}/api/openapi.json", timeout=10).json()
    post = spec["paths"]["/api/v1/voice-clone"]["post"]
    body = post["requestBody"]["content"]["multipart/form-data"]
    form = body["schema"]
    if "$ref" in form:
        form = spec["components"]["schemas"][form["$ref"].split("/")[-1]]
    assert form["required"] == ["voice"]
    assert form["properties"]["voice"] == {**form["properties"]["voice"], "type": "string", "format": "binary"}
    assert {"title", "description", "coverImage", "tags"} <= set(form["properties"])
    assert body["example"]["tags"] == '["male","young","energetic"]'
    assert {"200", "400", "401", "429"} <= set(post["responses"])
    params = {p["name"]: p for p in spec["paths"]["/api/v1/voices"]["get"]["parameters"]}
    assert set(params) == {"page", "limit", "status", "type", "sortBy", "sortOrder"}
    assert params["limit"]["schema"]["maximum"] == 100 and params["limit"]["schema"]["default"] == 20
    assert params["sortBy"]["schema"]["enum"] == ["createdAt", "updatedAt", "title", "duration", "popularity"]
    assert params["status"]["schema"]["example"] == "COMPLETED"
