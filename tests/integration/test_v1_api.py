"""The /v1 surface (shared/seeds/004) end to end on the real stack: X-API-Key auth, every parameter rule of
POST /v1/voice-cloning/tts, async and sync modes, jobs and presigned results, custom voices (the same voices as
/api/v1/voices), credits through the ledger, tenant isolation, and speed/duration measured on the audio."""
from __future__ import annotations

import hashlib
import re
import uuid

import numpy as np
import pytest
import requests

from tests import voice_audio

from . import v1_client as v1
from .conftest import error_body, wait_for

pytestmark = pytest.mark.integration

UNKNOWN_VOICE = str(uuid.uuid4())
SHORT_TEXT = "Hello there, this is a test of cloned speech."


@pytest.fixture(scope="module")
def alice(base_url, app_processes):
    return v1.new_account(base_url, "alice-v1", 60_000)


@pytest.fixture(scope="module")
def bob(base_url, app_processes):
    return v1.new_account(base_url, "bob-v1", 5_000)


@pytest.fixture(scope="module")
def reference_wav():
    return voice_audio.flite_wav(voice="awb")


@pytest.fixture(scope="module")
def alice_voice(base_url, alice, reference_wav):
    resp = v1.create_voice(base_url, alice, reference_wav, name="Alice host", tags="warm, host")
    assert resp.status_code == 201, resp.text
    voice = v1.wait_voice(base_url, alice, resp.json()["id"])
    assert voice["status"] == "ready", voice
    return voice


def assert_invalid(resp, *words):
    assert resp.status_code == 400, (resp.status_code, resp.text)
    body = resp.json()
    assert body["code"] == "INVALID_PARAMETERS", body
    for word in words:
        assert word in body["error"], body
    return body


# --- authentication ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/voice-cloning/tts"), ("GET", "/v1/custom-voices"), ("POST", "/v1/custom-voices"),
    ("GET", f"/v1/custom-voices/{UNKNOWN_VOICE}"), ("PATCH", f"/v1/custom-voices/{UNKNOWN_VOICE}"),
    ("DELETE", f"/v1/custom-voices/{UNKNOWN_VOICE}"), ("GET", "/v1/jobs/cl123"), ("GET", "/v1/jobs/cl123/result"),
])
@pytest.mark.parametrize("headers,message", [({}, "Authentication required"),
                                             ({"X-API-Key": "vf_not-a-real-key"}, "Invalid API key")])
def test_every_v1_route_needs_a_valid_x_api_key(base_url, app_processes, method, path, headers, message):
    resp = requests.request(method, base_url + path, headers=headers, files={"text": (None, "hi")}, timeout=10)
    assert resp.status_code == 401, resp.text
    assert error_body(resp) == {"code": "UNAUTHORIZED", "error": message}


def test_the_same_key_and_balance_serve_both_surfaces(base_url, alice):
    bearer = {"Authorization": f"Bearer {alice['X-API-Key']}"}
    assert requests.get(f"{base_url}/api/v1/credits", headers=bearer, timeout=10).status_code == 200
    assert requests.get(f"{base_url}/v1/custom-voices", headers=alice, timeout=10).status_code == 200


# --- parameter rules --------------------------------------------------------------------------------------------

def valid(**overrides) -> dict:
    """A form that passes validation and then meets an unknown custom voice (404): proof it was accepted."""
    return {"text": SHORT_TEXT, "custom_voice_id": UNKNOWN_VOICE, "async_mode": "true", **overrides}


@pytest.mark.parametrize("overrides", [
    {}, {"speed": "0.25"}, {"speed": "4.0"}, {"speed": "4"}, {"duration": "600"}, {"duration": "0.5"},
    {"format": "wav"}, {"format": "mp3"}, {"async_mode": "false"}, {"language": "auto"}, {"language": "en"},
    {"language": "EN_us"}, {"language": "fr", "text": "Bonjour, merci beaucoup."},
    {"text": "x" * 5000}, {"text": "€" * 1666, "language": "en"},  # 4998 bytes
])
def test_values_within_the_rules_pass_validation(base_url, alice, overrides):
    resp = v1.tts(base_url, alice, valid(**overrides))
    assert resp.status_code == 404, resp.text
    assert resp.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("overrides,words", [
    ({"text": None}, ["text", "Missing data"]),
    ({"text": "   "}, ["text"]),
    ({"text": "x" * 5001}, ["5000 bytes"]),
    ({"text": "€" * 1667}, ["5000 bytes"]),  # 5001 bytes in 1667 characters
    ({"speed": "0.24"}, ["speed", "0.25", "4.0"]),
    ({"speed": "4.01"}, ["speed"]),
    ({"speed": "0"}, ["speed"]),
    ({"speed": "fast"}, ["speed"]),
    ({"speed": "nan"}, ["speed"]),
    ({"speed": "inf"}, ["speed"]),
    ({"duration": "0"}, ["duration", "600"]),
    ({"duration": "-3"}, ["duration"]),
    ({"duration": "600.01"}, ["duration", "600"]),
    ({"duration": "long"}, ["duration"]),
    ({"format": "ogg"}, ["format", "wav", "mp3"]),
    ({"format": "WAV"}, ["format"]),
    ({"async_mode": "yes"}, ["async_mode", "true", "false"]),
    ({"async_mode": "True"}, ["async_mode"]),
    ({"async_mode": "1"}, ["async_mode"]),
    ({"language": "xx"}, ["language", "auto", "en"]),
    ({"custom_voice_id": "not-a-uuid"}, ["custom_voice_id", "UUID"]),
    ({"custom_voice_id": None}, ["exactly one of audio_ref or custom_voice_id"]),
    ({"custom_voice_id": None, "audio_ref": "not a file"}, ["audio_ref", "file part"]),
])
def test_each_parameter_rule_is_a_400_naming_it(base_url, alice, overrides, words):
    form = {k: v for k, v in valid(**overrides).items() if v is not None}
    assert_invalid(v1.tts(base_url, alice, form), *words)


def test_both_audio_ref_and_custom_voice_id_is_a_400(base_url, alice, reference_wav):
    resp = v1.tts(base_url, alice, valid(), audio_ref=reference_wav)
    assert_invalid(resp, "exactly one of audio_ref or custom_voice_id", "not both")


def test_audio_ref_must_be_a_wav(base_url, alice, reference_wav):
    assert_invalid(v1.tts(base_url, alice, {"text": SHORT_TEXT}, audio_ref=voice_audio.convert(reference_wav, "mp3"),
                          filename="ref.wav"), "audio_ref must be a WAV file")
    assert_invalid(v1.tts(base_url, alice, {"text": SHORT_TEXT}, audio_ref=b"not audio at all" * 10),
                   "Invalid file type")


@pytest.mark.parametrize("size", [25 * 1024 * 1024, 20 * 1024 * 1024 + 10])  # declared too big; counted in the parse
@pytest.mark.parametrize("path,field", [("/v1/voice-cloning/tts", "audio_ref"), ("/v1/custom-voices", "audio")])
def test_uploads_over_20_mb_are_the_same_400_as_api_v1(base_url, alice, path, field, size):
    big = b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * (size - 12)
    resp = requests.post(base_url + path, headers=alice, files={field: ("big.wav", big, "audio/wav")},
                         data={"text": SHORT_TEXT}, timeout=120)
    assert resp.status_code == 400, resp.text
    assert error_body(resp) == {"code": "INVALID_PARAMETERS", "error": "File size exceeds 20MB limit"}


def test_unsupported_detected_language_or_undetectable_text_is_a_clear_400(base_url, alice):
    from frontdoor.v1 import languages

    for text in ("12345 67890", "Съешь же ещё этих мягких французских булок, да выпей чаю"):
        resp = v1.tts(base_url, alice, valid(text=text))
        if resp.status_code == 404:  # the detector recognised a supported language: nothing to refuse
            assert languages.detect(text) in languages.supported()
            continue
        body = assert_invalid(resp, "language")
        assert all(code in body["error"] for code in languages.supported()), body


def test_refused_requests_cost_nothing(base_url, bob):
    before = v1.balance(base_url, bob)
    assert v1.tts(base_url, bob, valid(speed="9")).status_code == 400
    assert v1.tts(base_url, bob, valid()).status_code == 404
    assert v1.balance(base_url, bob) == before


# --- async and sync with a reference upload ---------------------------------------------------------------------

def test_async_reference_job_reserves_then_captures_and_does_not_keep_a_voice(base_url, alice, reference_wav):
    voices_before = requests.get(f"{base_url}/api/v1/voices", headers=alice, params={"type": "USER", "limit": 100},
                                 timeout=10).json()["pagination"]["total"]
    before = v1.balance(base_url, alice)
    resp = v1.tts(base_url, alice, {"text": SHORT_TEXT, "async_mode": "true"}, audio_ref=reference_wav)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["mode"] == "async" and body["queued"] is True and body["job_id"]
    price = len(SHORT_TEXT.encode("utf-8"))
    assert body["credits_reserved"] == price

    done = v1.wait_job(base_url, alice, body["job_id"])
    assert done["status"] == "completed", done
    assert done["parameters"]["voice_source"] == "audio_ref"
    assert done["parameters"]["language"] == "auto" and done["parameters"]["detected_language"] == "en"
    assert done["parameters"]["format"] == "wav" and done["parameters"]["async_mode"] is True
    assert done["created_at"] <= done["started_at"] <= done["completed_at"]
    assert done["error"] is None and done["result"]["mime_type"] == "audio/wav"

    wait_for(lambda: v1.balance(base_url, alice) == before - price, 30, "the price to be captured")
    def mine() -> list[str]:
        history = requests.get(f"{base_url}/api/v1/credits/history", headers=alice, timeout=10).json()["items"]
        return sorted(item["type"] for item in history if item["jobId"] == body["job_id"])

    # The balance already shows the price once it is reserved; the capture's history entry may come a moment later.
    found = wait_for(lambda: (m := mine()) == ["capture", "reservation"] and m, 30, "the capture in the history")
    assert found == ["capture", "reservation"], found

    res = v1.result(base_url, alice, body["job_id"])
    assert res.status_code == 200, res.text
    audio = v1.download(res.json()["download_url"])
    samples, rate = voice_audio.decode(audio)
    assert res.json()["mime_type"] == "audio/wav" and audio[:4] == b"RIFF"
    assert abs(len(samples) / rate - res.json()["duration"]) < 0.1
    voices_after = requests.get(f"{base_url}/api/v1/voices", headers=alice, params={"type": "USER", "limit": 100},
                                timeout=10).json()["pagination"]["total"]
    assert voices_after == voices_before  # the reference was enrolled for this job only


def test_sync_reference_job_returns_the_completed_payload(base_url, alice, reference_wav):
    resp = v1.tts(base_url, alice, {"text": SHORT_TEXT, "async_mode": "false", "format": "mp3"},
                  audio_ref=reference_wav)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["mode"] == "sync" and body["status"] == "completed" and body["format"] == "mp3"
    assert body["mime_type"] == "audio/mpeg" and body["credits_used"] == len(SHORT_TEXT.encode())
    audio = v1.download(body["download_url"])
    samples, rate = voice_audio.decode(audio)
    assert len(samples) / rate > 1.0
    assert v1.job(base_url, alice, body["job_id"]).json()["status"] == "completed"


def test_the_same_reference_again_reuses_its_voice_for_that_account_only(base_url, alice, bob, reference_wav):
    from adapters import mongo
    from service_config import load

    db = mongo.connect(load())
    digest = hashlib.sha256(reference_wav).hexdigest()

    def finish(headers) -> dict:
        """Speech in the reference's voice; returns what the account keeps for that reference."""
        resp = v1.tts(base_url, headers, {"text": SHORT_TEXT, "async_mode": "true"}, audio_ref=reference_wav)
        assert resp.status_code == 202, resp.text
        assert v1.wait_job(base_url, headers, resp.json()["job_id"])["status"] == "completed"
        account = db.speeches.find_one({"_id": resp.json()["job_id"]})["accountId"]
        kept = db.reference_voices.find_one({"accountId": account, "sha256": digest})
        assert kept is not None and kept["profile"] and kept["engineVoice"], kept
        return kept

    first = finish(alice)
    assert first["expiresAt"] > first["createdAt"]
    assert not {"audio", "reference", "data"} & set(first), "the recording itself is not kept"
    assert finish(alice)["createdAt"] == first["createdAt"]   # reused, not enrolled again
    theirs = finish(bob)   # the same bytes from another tenant: enrolled for bob, alice's voice untouched
    assert theirs["_id"] != first["_id"] and theirs["accountId"] != first["accountId"]
    assert db.reference_voices.find_one({"_id": first["_id"]})["createdAt"] == first["createdAt"]


def _triton_enrolments() -> int:
    """How many enrolments the stack's Triton has run (its `enroll` model's successful requests)."""
    from service_config import load

    metrics = requests.get(f"http://127.0.0.1:{load().triton_metrics_port}/metrics", timeout=5).text
    found = re.search(r'^nv_inference_request_success\{model="enroll",version="\d+"\} (\d+)', metrics, re.M)
    return int(found.group(1)) if found else 0


def test_two_jobs_with_the_same_new_reference_enrol_it_once(base_url, alice):
    reference = voice_audio.flite_wav(voice_audio.PARAGRAPH + " Said twice at once.", voice="awb")  # new bytes
    before = _triton_enrolments()
    job_ids = []
    for _ in range(2):
        resp = v1.tts(base_url, alice, {"text": SHORT_TEXT, "async_mode": "true"}, audio_ref=reference)
        assert resp.status_code == 202, resp.text
        job_ids.append(resp.json()["job_id"])
    assert [v1.wait_job(base_url, alice, job_id)["status"] for job_id in job_ids] == ["completed", "completed"]
    # The second job waited for the first's voice instead of running the same enrolment beside it.
    assert _triton_enrolments() - before == 1


def test_unusable_reference_fails_the_job_and_releases_the_credits(base_url, alice):
    silent = voice_audio.to_wav(voice_audio.silence(6.0), 16000)
    before = v1.balance(base_url, alice)
    resp = v1.tts(base_url, alice, {"text": SHORT_TEXT, "async_mode": "false"}, audio_ref=silent)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "JOB_FAILED" and "silent" in body["error"].lower(), body
    wait_for(lambda: v1.balance(base_url, alice) == before, 30, "the reserved credits to be released")
    job = v1.job(base_url, alice, body["job_id"]).json()
    assert job["status"] == "failed" and job["error"] == body["error"]
    res = v1.result(base_url, alice, body["job_id"])
    assert res.status_code == 409 and res.json()["code"] == "JOB_FAILED"


def test_result_before_completion_is_a_clear_409(base_url, alice, alice_voice):
    long_text = " ".join([voice_audio.PARAGRAPH] * 4)
    resp = v1.tts(base_url, alice, {"text": long_text, "custom_voice_id": alice_voice["id"], "async_mode": "true"})
    assert resp.status_code == 202, resp.text
    early = v1.result(base_url, alice, resp.json()["job_id"])
    if v1.job(base_url, alice, resp.json()["job_id"]).json()["status"] != "completed":
        assert early.status_code == 409, early.text
        assert early.json()["code"] == "JOB_NOT_READY" and early.json()["status"] in ("queued", "processing")
    assert v1.wait_job(base_url, alice, resp.json()["job_id"])["status"] == "completed"


def test_insufficient_credits_is_429_with_the_usage_shape(base_url, app_processes, reference_wav):
    poor = v1.new_account(base_url, "poor-v1", 10)
    resp = v1.tts(base_url, poor, {"text": SHORT_TEXT, "async_mode": "true"}, audio_ref=reference_wav)
    assert resp.status_code == 429, resp.text
    assert error_body(resp) == {"code": "USAGE_LIMIT_EXCEEDED", "error": "Insufficient credits", "credits": 10,
                           "needCredits": len(SHORT_TEXT.encode())}


# --- tenants ----------------------------------------------------------------------------------------------------

def test_another_tenants_job_result_and_voice_are_404(base_url, alice, bob, alice_voice):
    resp = v1.tts(base_url, alice, {"text": SHORT_TEXT, "custom_voice_id": alice_voice["id"], "async_mode": "false"})
    assert resp.status_code == 200, resp.text
    job_id = resp.json()["job_id"]
    for answer in (v1.job(base_url, bob, job_id), v1.result(base_url, bob, job_id),
                   v1.get_voice(base_url, bob, alice_voice["id"]),
                   requests.patch(f"{base_url}/v1/custom-voices/{alice_voice['id']}", headers=bob,
                                  json={"name": "mine now"}, timeout=10),
                   requests.delete(f"{base_url}/v1/custom-voices/{alice_voice['id']}", headers=bob, timeout=10),
                   v1.tts(base_url, bob, {"text": SHORT_TEXT, "custom_voice_id": alice_voice["id"]})):
        assert answer.status_code == 404, answer.text
        assert answer.json()["code"] == "NOT_FOUND"
        assert job_id not in answer.text and "Alice" not in answer.text
    assert v1.get_voice(base_url, alice, alice_voice["id"]).json()["name"] == "Alice host"


def test_api_v1_speech_jobs_are_visible_as_v1_jobs(base_url, alice):
    bearer = {"Authorization": f"Bearer {alice['X-API-Key']}"}
    resp = requests.post(f"{base_url}/api/v1/tts", headers=bearer, json={"text": "Hi.", "voiceId": "sys_slt"},
                         timeout=30)
    assert resp.status_code == 200, resp.text
    done = v1.wait_job(base_url, alice, resp.json()["speechId"])
    assert done["status"] == "completed" and done["parameters"]["format"] == "mp3"
    assert v1.result(base_url, alice, done["job_id"]).json()["mime_type"] == "audio/mpeg"


# --- custom voices ----------------------------------------------------------------------------------------------

def test_custom_voices_are_the_api_v1_voices(base_url, alice, alice_voice):
    uuid.UUID(alice_voice["id"])
    assert alice_voice["tags"] == ["warm", "host"] and alice_voice["reference_duration"] > 5
    bearer = {"Authorization": f"Bearer {alice['X-API-Key']}"}
    listed = requests.get(f"{base_url}/api/v1/voices", headers=bearer, params={"type": "USER", "limit": 100},
                          timeout=10).json()["voices"]
    same = next(v for v in listed if v["id"] == alice_voice["id"])
    assert same["title"] == "Alice host" and same["status"] == "COMPLETED"


def test_custom_voice_list_is_paged(base_url, app_processes, reference_wav):
    carol = v1.new_account(base_url, "carol-v1", 5_000)
    ids = [v1.create_voice(base_url, carol, reference_wav, name=f"v{i}").json()["id"] for i in range(3)]
    first = requests.get(f"{base_url}/v1/custom-voices", headers=carol, params={"page_size": 2}, timeout=10).json()
    second = requests.get(f"{base_url}/v1/custom-voices", headers=carol, params={"page_size": 2, "page": 2},
                          timeout=10).json()
    assert first["total"] == 3 and first["total_pages"] == 2 and first["has_next"] is True
    assert second["has_next"] is False and len(second["items"]) == 1
    assert {v["id"] for v in first["items"] + second["items"]} == set(ids)
    assert [v["name"] for v in first["items"]] == ["v2", "v1"]  # newest first
    for params in ({"page": 0}, {"page_size": 0}, {"page_size": 101}, {"page": "x"}):
        assert_invalid(requests.get(f"{base_url}/v1/custom-voices", headers=carol, params=params, timeout=10))


def test_custom_voice_create_rules(base_url, alice, reference_wav):
    missing = requests.post(f"{base_url}/v1/custom-voices", headers=alice, files={"name": (None, "x")}, timeout=10)
    assert_invalid(missing, "audio")
    as_text = requests.post(f"{base_url}/v1/custom-voices", headers=alice, files={"audio": (None, "x")}, timeout=10)
    assert_invalid(as_text, "audio", "file part")
    assert_invalid(v1.create_voice(base_url, alice, b"garbage" * 20), "Invalid file type")
    assert_invalid(v1.create_voice(base_url, alice, reference_wav, name="n" * 101), "name")


def test_update_and_delete_a_custom_voice(base_url, alice, reference_wav):
    created = v1.create_voice(base_url, alice, reference_wav, name="Temp", description="to delete")
    assert created.status_code == 201, created.text
    voice = v1.wait_voice(base_url, alice, created.json()["id"])
    assert voice["status"] == "ready", voice
    url = f"{base_url}/v1/custom-voices/{voice['id']}"

    patched = requests.patch(url, headers=alice, json={"name": "Renamed", "tags": ["a", "b"], "description": None},
                             timeout=10)
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Renamed" and patched.json()["tags"] == ["a", "b"]
    assert not patched.json()["description"]
    assert v1.get_voice(base_url, alice, voice["id"]).json()["name"] == "Renamed"
    assert_invalid(requests.patch(url, headers=alice, json={}, timeout=10))
    assert_invalid(requests.patch(url, headers=alice, json={"name": ""}, timeout=10), "name")
    assert_invalid(requests.patch(url, headers=alice, json={"tags": "a"}, timeout=10), "tags")
    assert_invalid(requests.get(f"{base_url}/v1/custom-voices/sys_slt", headers=alice, timeout=10), "UUID")

    from adapters import mongo
    from service_config import load

    assert mongo.connect(load()).voices.find_one({"_id": voice["id"]})["profile"]  # enrolled: a profile is kept
    reference_url = voice["reference_url"]
    assert requests.get(reference_url, timeout=10).status_code == 200
    deleted = requests.delete(url, headers=alice, timeout=10)
    assert deleted.status_code == 200 and deleted.json() == {"id": voice["id"], "deleted": True}
    assert v1.get_voice(base_url, alice, voice["id"]).status_code == 404
    assert requests.delete(url, headers=alice, timeout=10).status_code == 404
    assert requests.get(reference_url, timeout=10).status_code == 404  # the reference left S3
    use = v1.tts(base_url, alice, {"text": SHORT_TEXT, "custom_voice_id": voice["id"]})
    assert use.status_code == 404 and use.json()["code"] == "NOT_FOUND"
    bearer = {"Authorization": f"Bearer {alice['X-API-Key']}"}
    listed = requests.get(f"{base_url}/api/v1/voices", headers=bearer, params={"type": "USER", "limit": 100},
                          timeout=10).json()["voices"]
    assert voice["id"] not in {v["id"] for v in listed}
    tombstone = mongo.connect(load()).voices.find_one({"_id": voice["id"]})
    assert tombstone is None or not tombstone.get("profile")  # the profile went with the voice


def test_a_duration_the_text_cannot_reach_fails_the_job_and_releases_the_credits(base_url, alice, alice_voice):
    before = v1.balance(base_url, alice)
    resp = v1.tts(base_url, alice, {"text": "Hi.", "custom_voice_id": alice_voice["id"], "duration": "600"})
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == "JOB_FAILED" and "duration" in resp.json()["error"], resp.json()
    wait_for(lambda: v1.balance(base_url, alice) == before, 30, "the reserved credits to be released")


# --- speed and duration change the length, not the pitch ---------------------------------------------------------

def synthesize(base_url, headers, voice_id: str, **options) -> tuple[np.ndarray, int]:
    resp = v1.tts(base_url, headers, {"text": voice_audio.PARAGRAPH, "custom_voice_id": voice_id,
                                      "async_mode": "false", **options})
    assert resp.status_code == 200, resp.text
    return voice_audio.decode(v1.download(resp.json()["download_url"]))


def test_speed_and_duration_change_the_length_but_not_the_pitch(base_url, alice, alice_voice):
    natural, rate = synthesize(base_url, alice, alice_voice["id"])
    natural_s, natural_f0 = len(natural) / rate, voice_audio.median_f0(natural, rate)

    fast, rate_fast = synthesize(base_url, alice, alice_voice["id"], speed="2.0")
    slow, rate_slow = synthesize(base_url, alice, alice_voice["id"], speed="0.5")
    fixed, rate_fixed = synthesize(base_url, alice, alice_voice["id"], duration=str(round(natural_s * 1.5, 2)))

    print(f"natural {natural_s:.2f}s f0 {natural_f0:.1f}Hz | speed 2: {len(fast) / rate_fast:.2f}s "
          f"f0 {voice_audio.median_f0(fast, rate_fast):.1f} | speed 0.5: {len(slow) / rate_slow:.2f}s "
          f"f0 {voice_audio.median_f0(slow, rate_slow):.1f} | duration {natural_s * 1.5:.2f}: "
          f"{len(fixed) / rate_fixed:.2f}s f0 {voice_audio.median_f0(fixed, rate_fixed):.1f}")
    assert len(fast) / rate_fast == pytest.approx(natural_s / 2, rel=0.15)
    assert len(slow) / rate_slow == pytest.approx(natural_s * 2, rel=0.15)
    assert len(fixed) / rate_fixed == pytest.approx(natural_s * 1.5, rel=0.05)
    for samples, r in ((fast, rate_fast), (slow, rate_slow), (fixed, rate_fixed)):
        assert voice_audio.median_f0(samples, r) == pytest.approx(natural_f0, rel=0.08)


# --- language ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("form,spoken", [
    ({"text": "Hola, ¿cómo estás? Gracias por venir.", "language": "auto"}, "es"),
    ({"text": "Bonjour et merci beaucoup pour votre visite.", "language": "fr"}, "fr"),
])
def test_other_languages_are_spoken_and_recorded(base_url, alice, alice_voice, form, spoken):
    resp = v1.tts(base_url, alice, {**form, "custom_voice_id": alice_voice["id"]})
    assert resp.status_code == 200, resp.text
    samples, rate = voice_audio.decode(v1.download(resp.json()["download_url"]))
    assert len(samples) / rate > 1.0
    params = v1.job(base_url, alice, resp.json()["job_id"]).json()["parameters"]
    assert params["language"] == form["language"] and params["detected_language"] == spoken
