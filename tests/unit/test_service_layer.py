"""The service layer's use cases with in-memory fakes of its ports (no Kafka, MongoDB or S3): what each use case
publishes, writes and raises. The real adapters are exercised by the integration tests (test_voices,
test_e2e_tts, test_api_contract, test_ledger_usage)."""
from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import IO, Any

import pytest

from schemas import events as ev
from schemas import jobs
from schemas import messages as msg
from service_layer import accounts, credits, keys, paid_jobs, speech, voices
from service_layer import jobs as job_cases
from service_layer.errors import InsufficientCredits, InvalidInput, NotFound, ServiceUnavailable
from service_layer.ports import Ports, Unavailable
from tests import voice_audio

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
READY_VOICE = {"_id": "clvoice", "accountId": "acct_a", "type": "USER", "status": "COMPLETED", "title": "Mine",
               "coverImage": None, "engineVoice": "slt", "profile": {"pitch": 1.1}, "audioKey": "voices/a/ref.wav"}


class FakeStore:
    """The MongoDB views as dicts; transitions are recorded, not guarded (the guard is the adapter's)."""

    def __init__(self) -> None:
        self.accounts: dict[str, dict[str, Any]] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.voices: dict[str, dict[str, Any]] = {}
        self.speeches: dict[str, dict[str, Any]] = {}
        self.credit_views: dict[str, dict[str, Any]] = {}
        self.entries: list[dict[str, Any]] = []
        self.transitions: list[tuple[str, str, str]] = []  # (collection, id, state)

    def find_account(self, account_id: str) -> Mapping[str, Any] | None:
        return self.accounts.get(account_id)

    def upsert_account(self, account_id: str, name: str, now: datetime) -> None:
        self.accounts.setdefault(account_id, {"_id": account_id, "name": name, "createdAt": now})

    def insert_api_key(self, key_id: str, account_id: str, key_hash: str, prefix: str, now: datetime,
                       name: str | None = None) -> None:
        self.keys[key_id] = {"_id": key_id, "accountId": account_id, "keyHash": key_hash, "prefix": prefix,
                             "name": name, "createdAt": now, "revokedAt": None}

    def find_active_key(self, key_hash: str) -> Mapping[str, Any] | None:
        return next((k for k in self.keys.values() if k["keyHash"] == key_hash and not k["revokedAt"]), None)

    def find_api_key(self, key_id: str) -> Mapping[str, Any] | None:
        return self.keys.get(key_id)

    def list_api_keys(self, account_id: str) -> list[dict[str, Any]]:
        return [k for k in self.keys.values() if k["accountId"] == account_id]

    def count_active_api_keys(self, account_id: str) -> int:
        return sum(1 for k in self.list_api_keys(account_id) if not k["revokedAt"])

    def revoke_api_key(self, account_id: str | None, key_id: str, now: datetime) -> bool:
        key = self.keys.get(key_id)
        if key is None or key["revokedAt"] or (account_id is not None and key["accountId"] != account_id):
            return False
        key["revokedAt"] = now
        return True

    def find_usable_voice(self, account_id: str, voice_id: str) -> Mapping[str, Any] | None:
        voice = self.voices.get(voice_id)
        if voice is None or voice.get("status") in ("REJECTED", "DELETED"):
            return None
        return voice if voice.get("accountId") in (account_id, None) else None

    def find_own_voice(self, account_id: str, voice_id: str) -> Mapping[str, Any] | None:
        voice = self.find_usable_voice(account_id, voice_id)
        return voice if voice is not None and voice.get("accountId") == account_id else None

    def list_voices(self, account_id: str, *, status: str | None, voice_type: str | None, sort_by: str,
                    descending: bool, skip: int, limit: int) -> tuple[list[Mapping[str, Any]], int]:
        found = [v for v in self.voices.values() if self.find_usable_voice(account_id, v["_id"]) is not None]
        return found[skip:skip + limit], len(found)

    def apply_voice_transition(self, voice_id: str, target_state: str, fields: Mapping[str, Any],
                               insert_fields: Mapping[str, Any]) -> bool:
        self.transitions.append(("voices", voice_id, target_state))
        doc = self.voices.setdefault(voice_id, {"_id": voice_id, **insert_fields})
        doc.update({**fields, "state": target_state, "status": jobs.voice_status(target_state)})
        return True

    def update_own_voice(self, account_id: str, voice_id: str,
                         fields: Mapping[str, Any]) -> Mapping[str, Any] | None:
        voice = self.find_own_voice(account_id, voice_id)
        if voice is None:
            return None
        self.voices[voice_id].update(fields)
        return self.voices[voice_id]

    def delete_own_voice(self, account_id: str, voice_id: str, now: datetime) -> bool:
        if self.find_own_voice(account_id, voice_id) is None:
            return False
        self.voices[voice_id] = {"_id": voice_id, "accountId": account_id, "status": "DELETED"}
        return True

    def apply_job_transition(self, job_id: str, target_state: str, fields: Mapping[str, Any],
                             insert_fields: Mapping[str, Any]) -> bool:
        self.transitions.append(("speeches", job_id, target_state))
        doc = self.speeches.setdefault(job_id, {"_id": job_id, **insert_fields})
        doc.update({**fields, "state": target_state, "status": jobs.public_status(target_state)})
        return True

    def find_speech(self, account_id: str, speech_id: str) -> Mapping[str, Any] | None:
        doc = self.speeches.get(speech_id)
        return doc if doc is not None and doc["accountId"] == account_id else None

    def find_credit_view(self, account_id: str) -> Mapping[str, Any] | None:
        return self.credit_views.get(account_id)

    def find_ledger_entries(self, account_id: str, before_sequence: int | None,
                            limit: int) -> list[dict[str, Any]]:
        rows = sorted((e for e in self.entries if e["accountId"] == account_id
                       and (before_sequence is None or e["sequence"] < before_sequence)),
                      key=lambda e: -e["sequence"])
        return rows[:limit]

    def find_ledger_entry_by_command(self, account_id: str, command_id: str) -> Mapping[str, Any] | None:
        return next((e for e in self.entries if e["accountId"] == account_id and e["commandId"] == command_id),
                    None)


class FakePublisher:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, ev.Event]] = []
        self.fail = fail

    def publish(self, topic: str, key: str, event: ev.Event) -> None:
        if self.fail:
            raise Unavailable("Kafka is down")
        self.sent.append((topic, key, event))


class FakeReplies:
    """Answers every wait with ``decision`` (None: no reply in time); remembers what was expected and waited."""

    def __init__(self, decision: ev.Event | None = None) -> None:
        self.decision = decision
        self.expected: list[str] = []
        self.waits: list[float] = []

    def expect(self, job_id: str) -> Callable[[float], ev.Event | None]:
        self.expected.append(job_id)

        def wait(timeout_s: float) -> ev.Event | None:
            self.waits.append(timeout_s)
            return self.decision if timeout_s > 0 else None

        return wait


class FakeBlobs:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = fail

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        if self.fail:
            raise Unavailable("S3 is down")
        self.objects[key] = fileobj.read()

    def delete(self, key: str) -> None:
        if self.fail:
            raise Unavailable("S3 is down")
        self.objects.pop(key, None)

    def presigned_url(self, key: str) -> str:
        return f"https://s3.test/{key}?sig"


def _job(job_id: str, price: int) -> msg.OtherJob:
    return msg.OtherJob(kind="test", job_id=job_id, account_id="acct_a", credits_used=price)


def accepted(job_id: str) -> ev.Event:
    return msg.JobAccepted(job_id=job_id, account_id="acct_a", kind="test", job=_job(job_id, 1)).envelope()


def rejected(job_id: str, credits: int, need: int) -> ev.Event:
    return msg.JobRejected(job_id=job_id, account_id="acct_a", kind="test", job=_job(job_id, need), credits=credits,
                           need_credits=need).envelope()


def make_ports(decision: Callable[[str], ev.Event | None] | None = None, *, kafka_down: bool = False,
               s3_down: bool = False) -> Ports:
    ids = iter(f"id{n}" for n in range(1000))
    replies = FakeReplies()
    ports = Ports(store=FakeStore(), publisher=FakePublisher(kafka_down), blobs=FakeBlobs(s3_down),
                  replies=replies, reply_timeout_s=3.0, clock=lambda: NOW,
                  new_id=lambda prefix, length: prefix + next(ids), new_voice_id=lambda: "cl" + next(ids))
    replies.decision = decision("clid0") if decision else None
    return ports


def store(ports: Ports) -> FakeStore:
    assert isinstance(ports.store, FakeStore)
    return ports.store


def sent(ports: Ports) -> list[tuple[str, str, ev.Event]]:
    assert isinstance(ports.publisher, FakePublisher)
    return ports.publisher.sent


# --- request speech ------------------------------------------------------------------------------------------------

def test_request_speech_reserves_the_price_in_bytes_then_records_the_view():
    ports = make_ports(accepted)
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    result = speech.request_speech(ports, "acct_a", "clvoice", "héllo", "wav")
    assert result == speech.SpeechAccepted("clid0", "héllo", "wav", 6, "2026-01-02T03:04:05.000Z", True)
    [(topic, key, event)] = sent(ports)
    assert (topic, key, event.name, event.correlation_id) == (
        ev.TOPIC_REQUESTS, "acct_a", msg.ReserveCreditsForJob.WIRE_NAME, "clid0")
    assert event.payload["amount"] == 6 and event.payload["commandId"] == "reserve:clid0"
    # The profile travels by reference (the voice id): the worker reads it from the voice's view.
    assert event.payload["job"]["profile"] is None and event.payload["job"]["kind"] == ev.JOB_KIND_TTS
    assert event.payload["job"]["voice"]["id"] == "clvoice" and event.payload["job"]["engineVoice"] == "slt"
    assert store(ports).transitions == [("speeches", "clid0", jobs.PENDING_CREDITS)]
    assert store(ports).speeches["clid0"]["voiceId"] == "clvoice"
    assert ports.replies.expected == ["clid0"] and ports.replies.waits == [3.0]  # type: ignore[attr-defined]


def test_request_speech_without_a_decision_in_time_is_queued_not_refused():
    ports = make_ports(None)
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    assert speech.request_speech(ports, "acct_a", "clvoice", "hi", "mp3").decided is False


def test_a_refused_reservation_is_insufficient_credits_with_the_ledgers_numbers():
    ports = make_ports(lambda job_id: rejected(job_id, 3, 20))
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    with pytest.raises(InsufficientCredits) as err:
        speech.request_speech(ports, "acct_a", "clvoice", "x" * 20, "mp3")
    assert (err.value.credits, err.value.need_credits, err.value.message) == (3, 20, "Insufficient credits")


def test_queue_down_is_service_unavailable_and_nothing_is_recorded():
    ports = make_ports(accepted, kafka_down=True)
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    with pytest.raises(ServiceUnavailable, match="nothing was charged"):
        speech.request_speech(ports, "acct_a", "clvoice", "hi", "mp3")
    assert store(ports).speeches == {}
    assert ports.replies.waits == [0]  # type: ignore[attr-defined]  # the waiter was released at once


@pytest.mark.parametrize("text, fmt, message", [
    ("", "mp3", "text must not be empty"),
    ("   ", "mp3", "text must not be empty"),
    ("é" * 2501, "mp3", "Text exceeds maximum length of 5000 bytes"),
    ("hi", "flac", "format must be one of: mp3, wav, opus, pcm"),
])
def test_bad_text_or_format_is_invalid_input_before_anything_is_published(text, fmt, message):
    ports = make_ports(accepted)
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    with pytest.raises(InvalidInput, match=message):
        speech.request_speech(ports, "acct_a", "clvoice", text, fmt)
    assert sent(ports) == []


def test_the_text_limit_is_inclusive():
    assert speech.price_of_text("a" * 5000) == 5000


@pytest.mark.parametrize("voice, error", [
    (None, NotFound),
    ({**READY_VOICE, "accountId": "acct_other"}, NotFound),
    ({**READY_VOICE, "status": "PROCESSING"}, InvalidInput),
    ({**READY_VOICE, "status": "FAILED"}, InvalidInput),
    ({**READY_VOICE, "status": "REJECTED"}, NotFound),
])
def test_speech_needs_a_completed_voice_of_the_caller(voice, error):
    ports = make_ports(accepted)
    if voice is not None:
        store(ports).voices["clvoice"] = voice
    with pytest.raises(error):
        speech.request_speech(ports, "acct_a", "clvoice", "hi", "mp3")
    assert sent(ports) == []


def test_get_speech_presigns_only_a_completed_result_and_hides_other_tenants():
    ports = make_ports()
    store(ports).speeches["s1"] = {"_id": "s1", "accountId": "acct_a", "status": "PROCESSING", "audioKey": None}
    store(ports).speeches["s2"] = {"_id": "s2", "accountId": "acct_a", "status": "COMPLETED", "audioKey": "k.mp3"}
    assert speech.get_speech(ports, "acct_a", "s1").audio_url is None
    assert speech.get_speech(ports, "acct_a", "s2").audio_url == "https://s3.test/k.mp3?sig"
    with pytest.raises(NotFound):
        speech.get_speech(ports, "acct_b", "s2")


def test_get_job_finds_speech_and_clone_jobs():
    ports = make_ports()
    store(ports).speeches["s2"] = {"_id": "s2", "accountId": "acct_a", "status": "COMPLETED", "audioKey": "k.mp3"}
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    job = job_cases.get_job(ports, "acct_a", "s2", presign=True)
    assert (job.kind, job.status, job.result_key, job.result_url) == ("tts", "COMPLETED", "k.mp3",
                                                                      "https://s3.test/k.mp3?sig")
    assert job_cases.get_job(ports, "acct_a", "clvoice").kind == "clone"
    with pytest.raises(NotFound):
        job_cases.get_job(ports, "acct_b", "clvoice")


def test_refusal_reads_only_a_rejection():
    assert paid_jobs.refusal(None, 5) is None
    assert paid_jobs.refusal(accepted("j"), 5) is None
    refused = paid_jobs.refusal(ev.Event(msg.JobRejected.WIRE_NAME, {"jobId": "j"}), 5)  # numbers unreadable
    assert refused is not None and (refused.credits, refused.need_credits) == (0, 5)


# --- clone a voice -------------------------------------------------------------------------------------------------

WAV = voice_audio.encode(voice_audio.tone(1.5, rate=16000), 16000, "wav")


def test_clone_stores_the_reference_then_reserves_1000_credits():
    ports = make_ports(accepted)
    result = voices.clone_voice(ports, "acct_a", io.BytesIO(WAV), voices.VoiceDetails(tags=["calm"]))
    key = "voices/acct_a/clid0/reference.wav"
    assert isinstance(ports.blobs, FakeBlobs) and ports.blobs.objects[key] == WAV
    assert result.decided and result.audio_url == f"https://s3.test/{key}?sig"
    assert result.job["title"] == "Voice 2026-01-02 03:04" and result.job["duration"] == 1.5
    [(_, _, event)] = sent(ports)
    assert event.payload["amount"] == 1000 and event.payload["job"]["referenceKey"] == key
    assert store(ports).voices["clid0"]["status"] == "PROCESSING"


def test_a_refused_clone_hides_the_voice_and_forgets_the_reference():
    ports = make_ports(lambda job_id: rejected(job_id, 500, 1000))
    with pytest.raises(InsufficientCredits) as err:
        voices.clone_voice(ports, "acct_a", io.BytesIO(WAV), voices.VoiceDetails())
    assert (err.value.credits, err.value.need_credits) == (500, 1000)
    assert store(ports).voices["clid0"]["status"] == jobs.VOICE_REJECTED
    assert isinstance(ports.blobs, FakeBlobs) and ports.blobs.objects == {}


def test_clone_with_the_queue_down_forgets_the_reference():
    ports = make_ports(accepted, kafka_down=True)
    with pytest.raises(ServiceUnavailable):
        voices.clone_voice(ports, "acct_a", io.BytesIO(WAV), voices.VoiceDetails())
    assert isinstance(ports.blobs, FakeBlobs) and ports.blobs.objects == {} and store(ports).voices == {}


def test_clone_with_storage_down_publishes_nothing():
    ports = make_ports(accepted, s3_down=True)
    with pytest.raises(ServiceUnavailable, match="Storage is unavailable"):
        voices.clone_voice(ports, "acct_a", io.BytesIO(WAV), voices.VoiceDetails())
    assert sent(ports) == []


@pytest.mark.parametrize("data, message", [
    (b"not audio at all" * 10, "Invalid file type"),
    (b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk", "could not be read"),
])
def test_clone_refuses_what_is_not_readable_audio(data, message):
    ports = make_ports(accepted)
    with pytest.raises(InvalidInput, match=message):
        voices.clone_voice(ports, "acct_a", io.BytesIO(data), voices.VoiceDetails())
    assert sent(ports) == [] and isinstance(ports.blobs, FakeBlobs) and ports.blobs.objects == {}


# --- read, update and delete voices --------------------------------------------------------------------------------

def test_list_voices_pages():
    ports = make_ports()
    for n in range(5):
        store(ports).voices[f"v{n}"] = {**READY_VOICE, "_id": f"v{n}"}
    page = voices.list_voices(ports, "acct_a", page=2, limit=2)
    assert [v["_id"] for v in page.voices] == ["v2", "v3"] and page.total == 5 and page.total_pages == 3
    with pytest.raises(InvalidInput):
        voices.list_voices(ports, "acct_a", page=0)


def test_own_voice_only_when_asked():
    ports = make_ports()
    store(ports).voices["sys"] = {"_id": "sys", "accountId": None, "type": "SYSTEM", "status": "COMPLETED"}
    assert voices.get_voice(ports, "acct_a", "sys")["_id"] == "sys"
    with pytest.raises(NotFound):
        voices.get_voice(ports, "acct_a", "sys", include_system=False)


def test_update_voice_sets_only_the_given_fields():
    ports = make_ports()
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    doc = voices.update_voice(ports, "acct_a", "clvoice", voices.VoiceChanges(title="  New  ", tags=["a"]))
    assert (doc["title"], doc["tags"], doc["updatedAt"], doc["coverImage"]) == ("New", ["a"], NOW, None)
    with pytest.raises(NotFound):
        voices.update_voice(ports, "acct_b", "clvoice", voices.VoiceChanges(title="x"))


@pytest.mark.parametrize("changes", [
    voices.VoiceChanges(),
    voices.VoiceChanges(title=" "),
    voices.VoiceChanges(title="t" * 101),
    voices.VoiceChanges(description="d" * 501),
    voices.VoiceChanges(tags=[str(n) for n in range(21)]),
])
def test_bad_voice_changes_are_invalid(changes):
    with pytest.raises(InvalidInput):
        voices.change_fields(changes, NOW)


def test_delete_voice_removes_its_objects_then_its_view():
    ports = make_ports()
    store(ports).voices["clvoice"] = {**READY_VOICE, "profileKey": "voices/a/profile.json"}
    assert isinstance(ports.blobs, FakeBlobs)
    ports.blobs.objects.update({"voices/a/ref.wav": b"x", "voices/a/profile.json": b"{}", "other": b"y"})
    voices.delete_voice(ports, "acct_a", "clvoice")
    assert ports.blobs.objects == {"other": b"y"}
    assert store(ports).voices["clvoice"]["status"] == "DELETED"
    with pytest.raises(NotFound):
        voices.get_voice(ports, "acct_a", "clvoice")
    with pytest.raises(NotFound):
        voices.delete_voice(ports, "acct_a", "clvoice")


def test_delete_voice_with_storage_down_changes_nothing():
    ports = make_ports(s3_down=True)
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    with pytest.raises(ServiceUnavailable):
        voices.delete_voice(ports, "acct_a", "clvoice")
    assert store(ports).voices["clvoice"]["status"] == "COMPLETED"


def test_another_tenant_cannot_delete_a_voice():
    ports = make_ports()
    store(ports).voices["clvoice"] = dict(READY_VOICE)
    with pytest.raises(NotFound):
        voices.delete_voice(ports, "acct_b", "clvoice")
    assert store(ports).voices["clvoice"]["status"] == "COMPLETED"


# --- keys, accounts and credits ------------------------------------------------------------------------------------

def test_keys_are_stored_as_hashes_and_resolve_to_their_account():
    ports = make_ports()
    issued = keys.create_key(ports, "acct_a", name="ci")
    stored = store(ports).keys[issued.key_id]
    assert issued.secret.startswith(keys.KEY_PREFIX) and issued.secret not in str(stored)
    assert stored["keyHash"] == keys.hash_key(issued.secret) and "keyHash" not in issued.record
    assert keys.account_for_key(ports, issued.secret) == "acct_a"
    keys.revoke_key(ports, issued.key_id, account_id="acct_a")
    assert keys.account_for_key(ports, issued.secret) is None
    with pytest.raises(NotFound):
        keys.revoke_key(ports, issued.key_id, account_id="acct_a")


def test_a_caller_cannot_revoke_another_accounts_key():
    ports = make_ports()
    issued = keys.issue_key(ports, "acct_a")
    with pytest.raises(NotFound):
        keys.revoke_key(ports, issued.key_id, account_id="acct_b")
    keys.revoke_key(ports, issued.key_id)  # the operator may revoke any key


def test_self_service_keys_are_limited():
    ports = make_ports()
    for _ in range(keys.MAX_ACTIVE_KEYS):
        keys.create_key(ports, "acct_a")
    with pytest.raises(InvalidInput, match="Too many active API keys"):
        keys.create_key(ports, "acct_a")
    keys.issue_key(ports, "acct_a")  # the operator is not limited


def test_create_account_opens_it_in_the_ledger_with_a_key():
    ports = make_ports()
    created = accounts.create_account(ports, "team", 300)
    [(topic, key, event)] = sent(ports)
    command = event.payload["command"]
    assert (topic, key, event.name) == (ev.TOPIC_REQUESTS, created.account_id, msg.LedgerCommand.WIRE_NAME)
    assert command["type"] == "OpenAccount" and command["monthly_allowance"] == 300
    assert command["command_id"] == f"open:{created.account_id}"
    assert keys.account_for_key(ports, created.key.secret) == created.account_id


def test_first_reset_is_the_first_of_next_month():
    assert credits.first_of_next_month(datetime(2026, 12, 31, 23, 59, tzinfo=timezone.utc)) == \
        datetime(2027, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("amount, kind", [(0, "permanent"), (-5, "regular"), (1.5, "regular"), (True, "regular"),
                                          (10, "gold")])
def test_bad_grants_are_refused_before_publishing(amount, kind):
    ports = make_ports()
    store(ports).upsert_account("acct_a", "a", NOW)
    with pytest.raises(InvalidInput):
        credits.grant(ports, "acct_a", amount, kind, "why")
    assert sent(ports) == []


def test_grant_to_an_unknown_account_is_not_found():
    with pytest.raises(NotFound, match="no such account: acct_x"):
        credits.grant(make_ports(), "acct_x", 5, "permanent", "why")


def test_grant_publishes_an_idempotent_command_and_reports_the_ledgers_entry():
    ports = make_ports()
    store(ports).upsert_account("acct_a", "a", NOW)
    store(ports).entries.append({"accountId": "acct_a", "commandId": "grant:order-7", "sequence": 4})
    outcome = credits.grant(ports, "acct_a", 50, "permanent", "purchase", idempotency_key="order-7", wait_s=1)
    assert outcome.command_id == "grant:order-7" and outcome.entry is not None
    [(_, _, event)] = sent(ports)
    assert event.payload["command"]["type"] == "GrantCredits" and event.payload["command"]["amount"] == 50


def test_grant_with_the_queue_down_is_service_unavailable():
    ports = make_ports(kafka_down=True)
    store(ports).upsert_account("acct_a", "a", NOW)
    with pytest.raises(ServiceUnavailable):
        credits.grant(ports, "acct_a", 5, "permanent", "why")


def test_credits_of_an_account_the_ledger_has_not_opened_are_zero():
    ports = make_ports()
    assert credits.get_credits(ports, "acct_a") == credits.Credits(0, {"regular": 0, "permanent": 0,
                                                                       "resetAt": None})
    store(ports).credit_views["acct_a"] = {"credits": 7, "breakdown": {"regular": 2, "permanent": 5,
                                                                        "resetAt": "x"}}
    assert credits.get_credits(ports, "acct_a").credits == 7


def test_usage_history_pages_newest_first():
    ports = make_ports()
    store(ports).entries.extend({"accountId": "acct_a", "sequence": n, "commandId": f"c{n}",
                                 "at": NOW + timedelta(seconds=n)} for n in range(1, 6))
    first = credits.usage_history(ports, "acct_a", None, 2)
    assert [e["sequence"] for e in first.entries] == [5, 4] and first.next_before == 4
    last = credits.usage_history(ports, "acct_a", 2, 2)
    assert [e["sequence"] for e in last.entries] == [1] and last.next_before is None
