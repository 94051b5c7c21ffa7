"""Pure parts of the projector (streams/projection_logic.py): which fields each job event writes. The public events:
tests/unit/test_completion_events.py."""
from datetime import datetime, timezone

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
