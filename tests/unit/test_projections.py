"""Pure parts of the projector and notifier: which fields each job event writes, and the public events."""
from schemas import events as ev
from streams import notifier, projector

JOB = {"kind": "tts", "jobId": "cl1", "accountId": "a", "text": "hi", "format": "mp3",
       "voice": {"id": "sys_slt", "title": "Sally", "coverImage": None, "type": "SYSTEM"}, "creditsUsed": 2,
       "createdAt": "2026-01-01T00:00:00.000Z"}


def test_accepted_event_seeds_a_complete_view():
    fields, seed = projector.job_view_fields(ev.Event(ev.JOB_ACCEPTED, {"jobId": "cl1", "accountId": "a",
                                                                         "kind": "tts", "job": JOB}))
    assert seed["text"] == "hi" and seed["voiceId"] == "sys_slt" and seed["creditsUsed"] == 2
    assert "updatedAt" in fields


def test_completed_event_sets_audio_fields_and_rejected_explains_why():
    fields, _ = projector.job_view_fields(ev.Event(ev.JOB_COMPLETED, {
        "jobId": "cl1", "accountId": "a", "kind": "tts", "audioKey": "k", "duration": 1.5, "mimeType": "audio/mpeg"}))
    assert (fields["audioKey"], fields["duration"]) == ("k", 1.5)
    fields, _ = projector.job_view_fields(ev.Event(ev.JOB_REJECTED, {
        "jobId": "cl1", "accountId": "a", "kind": "tts", "credits": 1, "needCredits": 2, "job": JOB}))
    assert "Insufficient credits" in fields["error"]


def test_public_events_only_for_finished_tts_jobs_with_stable_ids():
    started = ev.Event(ev.JOB_STARTED, {"jobId": "cl1", "accountId": "a", "kind": "tts"})
    assert notifier.public_event(started) is None
    done = ev.Event(ev.JOB_COMPLETED, {"jobId": "cl1", "accountId": "a", "kind": "tts", "format": "mp3",
                                       "duration": 1.0, "mimeType": "audio/mpeg", "audioKey": "k"})
    first, second = notifier.public_event(done), notifier.public_event(done)
    assert first.name == ev.SPEECH_COMPLETED and first.payload["status"] == "COMPLETED"
    assert first.id == second.id  # redelivery gives the same public id
    assert "audioKey" not in first.payload  # storage layout is not part of the public contract
