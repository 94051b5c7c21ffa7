"""The service layer's voice and key use cases on the real MongoDB and S3, through the real adapters: update and
delete of one's own voices (the S3 reference goes, a tombstone stays so a late clone event cannot bring the voice
back), tenant isolation, and the operator's key revocation."""
from __future__ import annotations

import io
import uuid
from datetime import datetime, timezone

import pytest

from adapters import mongo, wiring
from adapters.blobstore import BlobStore
from schemas import jobs
from service_config import load
from service_layer import keys, voices
from service_layer.errors import NotFound
from tests import voice_audio

pytestmark = pytest.mark.integration

WAV = voice_audio.encode(voice_audio.tone(1.5, rate=16000), 16000, "wav")


@pytest.fixture()
def ports(session_env):
    settings = load()
    BlobStore(settings).ensure_bucket()
    db = mongo.connect(settings)
    mongo.ensure_indexes(db)
    with wiring.operator_ports(settings, db) as bundle:
        yield bundle


def _enrolled_voice(ports, account_id: str) -> tuple[str, str]:
    """A USER voice as the clone stage leaves it (COMPLETED, with a profile), its reference in S3."""
    now = datetime.now(timezone.utc)
    voice_id = f"cl{uuid.uuid4().hex[:24]}"
    key = voices.voice_reference_key(account_id, voice_id, "wav")
    ports.blobs.put_file(key, io.BytesIO(WAV), "audio/wav")
    view = {"accountId": account_id, "type": "USER", "isPublic": False, "title": "Mine", "description": None,
            "coverImage": None, "tags": ["calm"], "duration": 1.5, "audioKey": key, "audioMimeType": "audio/wav",
            "engineVoice": None, "profile": None, "error": None, "usageCount": 0, "popularity": 0,
            "jobId": voice_id, "creditsUsed": 1000, "createdAt": now, "updatedAt": now}
    ports.store.apply_voice_transition(voice_id, jobs.PENDING_CREDITS, {}, view)
    ports.store.apply_voice_transition(voice_id, jobs.COMPLETED,
                                       {"engineVoice": "slt", "profile": {"pitch": 1.2}, "updatedAt": now}, view)
    return voice_id, key


def test_update_and_delete_own_voice_on_the_real_store(ports):
    settings = load()
    account, other = f"acct_{uuid.uuid4().hex[:12]}", f"acct_{uuid.uuid4().hex[:12]}"
    voice_id, key = _enrolled_voice(ports, account)
    assert voices.get_voice(ports, account, voice_id, include_system=False)["status"] == "COMPLETED"

    # Another tenant can neither see, change nor delete it.
    for attempt in (lambda: voices.get_voice(ports, other, voice_id),
                    lambda: voices.update_voice(ports, other, voice_id, voices.VoiceChanges(title="Theirs")),
                    lambda: voices.delete_voice(ports, other, voice_id)):
        with pytest.raises(NotFound):
            attempt()

    updated = voices.update_voice(ports, account, voice_id, voices.VoiceChanges(title="Renamed", tags=["warm"]))
    assert (updated["title"], updated["tags"], updated["status"]) == ("Renamed", ["warm"], "COMPLETED")
    assert updated["profile"] == {"pitch": 1.2}  # metadata changes leave the enrolment alone
    assert BlobStore(settings).get(key) == WAV

    voices.delete_voice(ports, account, voice_id)
    with pytest.raises(Exception) as gone:
        BlobStore(settings).get(key)
    assert "NoSuchKey" in repr(gone.value) or "404" in str(gone.value)
    for attempt in (lambda: voices.get_voice(ports, account, voice_id),
                    lambda: voices.delete_voice(ports, account, voice_id),
                    lambda: voices.update_voice(ports, account, voice_id, voices.VoiceChanges(title="Back"))):
        with pytest.raises(NotFound):
            attempt()
    page = voices.list_voices(ports, account, voice_type="USER")
    assert page.total == 0 and page.voices == []

    # A clone event arriving late (redelivered JobCompleted) cannot bring the voice or its profile back.
    assert not ports.store.apply_voice_transition(voice_id, jobs.COMPLETED, {"profile": {"pitch": 1.2}},
                                                  {"accountId": account, "type": "USER"})
    tombstone = mongo.connect(settings).voices.find_one({"_id": voice_id})
    assert tombstone["status"] == "DELETED" and "profile" not in tombstone and "title" not in tombstone


def test_operator_revokes_any_key_and_a_caller_only_its_own(ports):
    account, other = f"acct_{uuid.uuid4().hex[:12]}", f"acct_{uuid.uuid4().hex[:12]}"
    mine = keys.create_key(ports, account, name="ci")
    assert keys.account_for_key(ports, mine.secret) == account
    with pytest.raises(NotFound):
        keys.revoke_key(ports, mine.key_id, account_id=other)
    assert keys.account_for_key(ports, mine.secret) == account
    keys.revoke_key(ports, mine.key_id)  # the operator: any account's key
    assert keys.account_for_key(ports, mine.secret) is None
    listed = keys.list_keys(ports, account)
    assert [k["_id"] for k in listed] == [mine.key_id] and listed[0]["revokedAt"] is not None
    assert all("keyHash" not in k for k in listed)
