"""Pure parts of the projector and notifier (streams/projection.py): which fields each job event writes, and the
public events."""
from datetime import datetime, timezone

from schemas import events as ev
from schemas import messages as msg
from streams import projection_logic as projection

AT = datetime(2026, 1, 1, 0, 0, 5, tzinfo=timezone.utc)
JOB = msg.TtsJob(job_id="cl1", account_id="a", text="hi", format="mp3",
                 voice=msg.VoiceSummary(id="sys_slt", title="Sally", cover_image=None, type="SYSTEM"),
                 engine_voice="slt", profile=None, credits_used=2, created_at="2026-01-01T00:00:00.000Z")
SPEECH = msg.SpeechResult(audio_key="k", duration=1.5, mime_type="audio/mpeg", format="mp3", voice_id="sys_slt")


def test_accepted_event_seeds_a_complete_view():
    fields, seed = projection.job_view_fields(msg.JobAccepted(job_id="cl1", account_id="a", kind="tts", job=JOB), AT)
    assert seed["text"] == "hi" and seed["voiceId"] == "sys_slt" and seed["creditsUsed"] == 2
    assert "updatedAt" in fields


def test_completed_event_sets_audio_fields_and_rejected_explains_why():
    done = msg.JobCompleted(job_id="cl1", account_id="a", kind="tts", result=SPEECH)
    fields, _ = projection.job_view_fields(done, AT)
    assert (fields["audioKey"], fields["duration"]) == ("k", 1.5)
    rejected = msg.JobRejected(job_id="cl1", account_id="a", kind="tts", job=JOB, credits=1, need_credits=2)
    fields, _ = projection.job_view_fields(rejected, AT)
    assert "Insufficient credits" in fields["error"]


def _public(event: msg.Message):
    envelope = event.envelope(id="job-event-1")
    public = projection.public_message(msg.decode(envelope))
    return None if public is None else projection.public_envelope(envelope, public)


def test_public_events_only_for_finished_tts_jobs_with_stable_ids():
    assert _public(msg.JobStarted(job_id="cl1", account_id="a", kind="tts")) is None
    done = msg.JobCompleted(job_id="cl1", account_id="a", kind="tts", result=SPEECH)
    first, second = _public(done), _public(done)
    assert first.name == msg.SpeechCompleted.WIRE_NAME and first.payload["status"] == "COMPLETED"
    assert first.id == second.id  # redelivery gives the same public id
    assert "audioKey" not in first.payload  # storage layout is not part of the public contract
    voice = msg.VoiceResult(engine_voice="awb", profile={"version": 1}, enrolled_duration=3.0)
    assert _public(msg.JobCompleted(job_id="v1", account_id="a", kind="clone", result=voice)) is None
    assert _public(msg.JobFailed(job_id="v1", account_id="a", kind="clone", reason="x")) is None


def test_the_job_event_s_time_is_kept_on_the_public_event():
    envelope = msg.JobFailed(job_id="cl1", account_id="a", kind="tts", reason="boom").envelope(
        occurred_at="2026-01-01T00:00:15.000Z")
    public = projection.public_envelope(envelope, projection.public_message(msg.decode(envelope)))
    assert public.occurred_at == "2026-01-01T00:00:15.000Z" and public.payload["error"] == "boom"
    assert public.correlation_id == "cl1" and ev.decode(public.encode()) == public
