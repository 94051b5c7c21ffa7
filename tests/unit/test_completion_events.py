"""The public completion events (streams/completion_logic.py): one per job that ended, every kind and both
surfaces, keyed by account id, with stable ids across redeliveries; version-1 events still decode."""
import dataclasses
from datetime import datetime, timezone

from schemas import events as ev
from schemas import messages as msg
from streams import completion_logic as completions
from streams import stage_logic

AT = "2026-01-01T00:00:00.000Z"
TTS = msg.TtsJob(job_id="cl1", account_id="acct", text="hi", format="mp3",
                 voice=msg.VoiceSummary(id="sys_slt", title="Sally", cover_image=None, type="SYSTEM"),
                 engine_voice="slt", profile=None, credits_used=2, created_at=AT, api="v1")
CLONE = msg.CloneJob(job_id="v1", account_id="acct", voice_id="v1", title="Mine", description=None,
                     cover_image=None, tags=(), duration=12.5, reference_key="voices/acct/v1.wav",
                     reference_mime_type="audio/wav", reference_format="wav", reference_bytes=1000,
                     credits_used=1000, created_at=AT)
STARTED = datetime(2026, 1, 1, 0, 0, 2, tzinfo=timezone.utc)
FINISHED = datetime(2026, 1, 1, 0, 0, 3, 250000, tzinfo=timezone.utc)
SPEECH = msg.SpeechResult(audio_key="speeches/acct/cl1.mp3", duration=1.5, mime_type="audio/mpeg", format="mp3",
                          voice_id="sys_slt")
VOICE = msg.VoiceResult(engine_voice="awb", profile={"version": 2}, enrolled_duration=11.0)


def _public(job_event: msg.Message, envelope_id: str = "job-event-1"):
    envelope = job_event.envelope(id=envelope_id)
    public = completions.public_message(msg.decode(envelope))  # through the wire, as the notifier reads it
    return None if public is None else completions.public_envelope(envelope, public)


def _settled(job, outcome):
    return stage_logic.settlement(job, outcome, stage_logic.stage_timings(job, STARTED, FINISHED))[0]


def test_stage_timings_measure_the_wait_and_the_run():
    timings = stage_logic.stage_timings(TTS, STARTED, FINISHED)
    assert (timings.queued_ms, timings.run_ms) == (2000, 1250)
    assert (timings.started_at, timings.finished_at) == ("2026-01-01T00:00:02.000Z", "2026-01-01T00:00:03.250Z")


def test_a_completed_speech_tells_everything_the_issue_lists():
    public = _public(_settled(TTS, SPEECH))
    assert public.name == "speech.completed" and public.version == 2
    p = public.payload
    assert (p["jobId"], p["accountId"], p["voiceId"], p["audioKey"], p["duration"], p["creditsCharged"]) == \
        ("cl1", "acct", "sys_slt", "speeches/acct/cl1.mp3", 1.5, 2)
    assert p["api"] == "v1" and p["timings"]["runMs"] == 1250 and "requestId" in p


def test_every_job_kind_and_outcome_has_its_event():
    ready = _public(_settled(CLONE, VOICE)).payload
    assert (ready["voiceId"], ready["audioKey"], ready["creditsCharged"], ready["duration"]) == \
        ("v1", "voices/acct/v1.wav", 1000, 11.0)
    names = [_public(_settled(job, outcome)).name
             for job, outcome in ((TTS, SPEECH), (TTS, "boom"), (CLONE, VOICE), (CLONE, "too short"))]
    assert names == ["speech.completed", "speech.failed", "voice.ready", "voice.failed"]
    failed = _public(_settled(CLONE, "too short")).payload
    assert failed["creditsCharged"] == 0 and failed["error"] == "too short"  # released, not spent


def test_a_job_the_ledger_refused_ends_with_a_failed_event_that_charges_nothing():
    # the front door may have answered 202 (the ledger's decision came late): consumers must still hear the end
    tts = dataclasses.replace(TTS, request_id="req-7")
    refused = _public(msg.JobRejected(job_id="cl1", account_id="acct", kind="tts", job=tts, credits=1,
                                      need_credits=2), envelope_id="rejected:cl1")
    assert refused.name == "speech.failed" and refused.id == "rejected:cl1:public"
    p = refused.payload
    assert (p["jobId"], p["speechId"], p["accountId"], p["voiceId"], p["creditsCharged"], p["status"]) == \
        ("cl1", "cl1", "acct", "sys_slt", 0, "FAILED")
    assert p["error"] == "Insufficient credits: have 1, need 2"
    assert (p["api"], p["requestId"], p["timings"]) == ("v1", "req-7", None)
    voice = _public(msg.JobRejected(job_id="v1", account_id="acct", kind="clone", job=CLONE, credits=0,
                                    need_credits=1000)).payload
    assert (voice["voiceId"], voice["creditsCharged"], voice["error"]) == \
        ("v1", 0, "Insufficient credits: have 0, need 1000")
    # a kind no stage runs (the ledger-only benchmark load) has no public event, refused or not
    bench_job = msg.OtherJob(kind="bench", job_id="b1", account_id="acct", credits_used=5)
    assert _public(msg.JobRejected(job_id="b1", account_id="acct", kind="bench", job=bench_job, credits=0,
                                   need_credits=5)) is None


def test_events_are_keyed_by_account_and_stable_across_redelivery():
    done = _settled(TTS, SPEECH)
    first, again = _public(done), _public(done)
    assert first.id == again.id and first.correlation_id == "cl1"
    assert completions.public_message(done).key() == "acct"  # one account's events share a partition
    assert _public(msg.JobStarted(job_id="cl1", account_id="acct", kind="tts")) is None
    assert _public(msg.JobFailed(job_id="b1", account_id="acct", kind="bench", reason="x")) is None


def test_a_timer_expiry_failure_has_no_timings_and_the_job_event_s_time_is_kept():
    envelope = msg.JobFailed(job_id="cl1", account_id="acct", kind="tts", reason="expired").envelope(
        occurred_at="2026-01-01T00:00:15.000Z")
    public = completions.public_envelope(envelope, completions.public_message(msg.decode(envelope)))
    assert public.occurred_at == "2026-01-01T00:00:15.000Z" and public.payload["timings"] is None
    assert ev.decode(public.encode()) == public


def test_a_version_1_event_still_decodes():
    old = ev.Event("speech.completed", {"speechId": "cl1", "accountId": "acct", "status": "COMPLETED",
                                        "format": "mp3", "duration": 1.5, "mimeType": "audio/mpeg"}, version=1)
    upcast = msg.decode(old)
    assert isinstance(upcast, msg.SpeechCompleted) and upcast.job_id == "cl1" and upcast.audio_key is None
    failed = msg.decode(ev.Event("speech.failed", {"speechId": "cl1", "accountId": "acct", "status": "FAILED",
                                                   "error": "boom"}, version=1))
    assert isinstance(failed, msg.SpeechFailed) and failed.credits_charged is None


def test_a_refused_job_s_uploaded_recording_is_named_for_deletion():
    """A late refusal (after a 202) leaves the upload to the orchestrator: a /v1 speech's one-off reference and a
    clone's reference are deleted; a system-voice speech and a ledger-only job have none."""
    def refused(job):
        return msg.JobRejected(job_id=job.job_id, account_id="acct", kind=job.kind, job=job, credits=0,
                               need_credits=job.credits_used)

    one_off = dataclasses.replace(TTS, reference_key="references/acct/cl1.wav")
    assert stage_logic.refused_reference(refused(one_off)) == "references/acct/cl1.wav"
    assert stage_logic.refused_reference(refused(CLONE)) == "voices/acct/v1.wav"
    assert stage_logic.refused_reference(refused(TTS)) is None
    bench_job = msg.OtherJob(kind="bench", job_id="b1", account_id="acct", credits_used=5)
    assert stage_logic.refused_reference(refused(bench_job)) is None
