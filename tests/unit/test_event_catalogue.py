"""The message types are the one source of the event catalogue and the AsyncAPI document, and of every event on
the wire: these tests fail when a generated file, a declared producer or consumer, or a wire name drifts."""
import dataclasses
import re
from pathlib import Path

import pytest

import ledger
from schemas import catalogue
from schemas import events as ev
from schemas import messages as msg

ROOT = Path(__file__).resolve().parents[2]
AT = "2026-01-01T00:00:00.000Z"
TTS = msg.TtsJob(job_id="cl1", account_id="a", text="hi", format="mp3",
                 voice=msg.VoiceSummary(id="sys_slt", title="Sally", cover_image=None, type="SYSTEM"),
                 engine_voice="slt", profile=None, credits_used=2, created_at=AT)
CLONE = msg.CloneJob(job_id="v1", account_id="a", voice_id="v1", title="Mine", description=None, cover_image=None,
                     tags=("calm",), duration=12.5, reference_key="voices/a/v1.wav", reference_mime_type="audio/wav",
                     reference_format="wav", reference_bytes=1000, credits_used=1000, created_at=AT)
BALANCE = msg.BalanceAfter(credits=1, regular=1, permanent=0, reset_at=AT, reserved=0, sequence=2)
_LEDGER = {"event_id": "e1", "account_id": "a", "command_id": "c1", "sequence": 2, "at": AT}
SAMPLES: list[msg.Message] = [
    msg.ReserveCreditsForJob.for_job(TTS), msg.ReserveCreditsForJob.for_job(CLONE), msg.CaptureJobCredits.for_job(TTS),
    msg.ReleaseJobCredits.for_job(CLONE),
    msg.ReserveCreditsForJob.for_job(msg.job_from_dict({"kind": "bench", "jobId": "b1", "accountId": "a",
                                                        "creditsUsed": 1, "extra": [1]})),
    msg.LedgerCommand.of(ledger.GrantCredits(command_id="g1", account_id="a", at=AT, amount=5, kind="permanent",
                                             reason="purchase")),
    msg.ledger_record(ledger.AccountOpened(**_LEDGER, monthly_allowance=1, reset_at=AT, regular_granted=1), BALANCE),
    msg.ledger_record(ledger.CreditsGranted(**_LEDGER, amount=1, kind="regular", reason="x"), BALANCE),
    msg.ledger_record(ledger.CreditsReserved(**_LEDGER, job_id="j", regular_part=1, permanent_part=0, expires_at=AT),
                      BALANCE),
    msg.ledger_record(ledger.ReservationRefused(**_LEDGER, job_id="j", available_credits=0, needed_credits=3), BALANCE),
    msg.ledger_record(ledger.ReservationCaptured(**_LEDGER, job_id="j", captured_regular=1, captured_permanent=0,
                                                 released_regular=0, released_permanent=0, forfeited_regular=0),
                      BALANCE),
    msg.ledger_record(ledger.ReservationReleased(**_LEDGER, job_id="j", reason="expired", released_regular=1,
                                                 released_permanent=0, forfeited_regular=0), BALANCE),
    msg.ledger_record(ledger.MonthlyAllowanceReset(**_LEDGER, previous_reset_at=AT, next_reset_at=AT,
                                                   forfeited_regular=0, regular_granted=1), BALANCE),
    msg.JobAccepted(job_id="cl1", account_id="a", kind="tts", job=TTS),
    msg.JobRejected(job_id="v1", account_id="a", kind="clone", job=CLONE, credits=3, need_credits=1000),
    msg.JobStarted(job_id="cl1", account_id="a", kind="tts"),
    msg.JobCompleted(job_id="cl1", account_id="a", kind="tts", result=msg.SpeechResult(
        audio_key="k", duration=1.5, mime_type="audio/mpeg", format="mp3", voice_id="sys_slt")),
    msg.JobCompleted(job_id="v1", account_id="a", kind="clone", result=msg.VoiceResult(
        engine_voice="awb", profile={"version": 2}, enrolled_duration=12.0)),
    msg.JobFailed(job_id="cl1", account_id="a", kind="tts", reason="boom"),
    msg.JobCompleted(job_id="v1", account_id="a", kind="clone", credits_used=1000, api="v1", request_id="r1",
                     timings=msg.StageTimings(created_at=AT, started_at=AT, finished_at=AT, queued_ms=0, run_ms=5),
                     result=msg.VoiceResult(engine_voice="awb", profile={}, enrolled_duration=1.0, reference_key="k")),
    msg.SpeechCompleted(job_id="cl1", speech_id="cl1", account_id="a", api=None, voice_id="sys_slt",
                        credits_charged=2, timings=None, request_id=None, format="mp3", audio_key="k", duration=1.5,
                        mime_type="audio/mpeg"),
    msg.SpeechFailed(job_id="cl1", speech_id="cl1", account_id="a", api="v1", voice_id=None, credits_charged=0,
                     timings=None, request_id="r1", error=None),
    msg.VoiceReady(job_id="v1", account_id="a", api=None, voice_id="v1", credits_charged=1000, request_id=None,
                   timings=msg.StageTimings(created_at=None, started_at=AT, finished_at=AT, queued_ms=None, run_ms=1),
                   audio_key="voices/a/v1.wav", duration=12.0),
    msg.VoiceFailed(job_id="v1", account_id="a", api=None, voice_id="v1", credits_charged=0, timings=None,
                    request_id=None, error="Audio too short"),
    msg.WebhookDisabled(account_id="a", webhook_id="wh1", url="https://hooks.example.com/", reason="20 failed",
                        disabled_at=AT, failed_deliveries_in_a_row=20, failing_since=AT),
    msg.DeadLetter(reason="not JSON", raw="{"),
    msg.WebhookDeliveryDue(delivery_id="e1.wh1", endpoint_id="wh1", account_id="a", attempt=2, due_at=AT,
                           body='{"name":"speech.completed"}'),
]


def test_the_generated_files_are_up_to_date():
    for path, text in catalogue.outputs().items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.relative_to(ROOT)} differs from the code: run python -m schemas.catalogue --write"
    assert catalogue.main(["--check"]) == 0


def test_the_catalogue_lists_every_message_with_its_fields():
    text = catalogue.render_markdown()
    for cls in msg.MESSAGE_TYPES:
        assert f"### {cls.WIRE_NAME}\n" in text
        for f in dataclasses.fields(cls):
            if not f.metadata.get("flat"):
                assert f"| `{catalogue.wire_key(f)}` |" in text


def test_every_wire_name_is_declared_once_on_its_own_class():
    assert len(msg.REGISTRY) == len(msg.MESSAGE_TYPES)
    for name, cls in msg.REGISTRY.items():
        assert cls.__dict__["WIRE_NAME"] == name and isinstance(cls.VERSION, int)
        assert cls.TOPIC in ev.ALL_TOPICS and cls.PRODUCERS and cls.CONSUMERS
    ledger_names = {cls.__dict__["WIRE_NAME"] for cls in ledger.EVENT_TYPES}
    assert ledger_names == {cls.WIRE_NAME for cls in msg.LEDGER_RECORD_TYPES}


def test_every_message_type_round_trips_through_its_envelope():
    assert {type(s) for s in SAMPLES} == set(msg.MESSAGE_TYPES)
    for sample in SAMPLES:
        envelope = sample.envelope()
        assert msg.read(envelope.encode()) == (envelope, sample)


def test_reading_is_strict_on_types_and_tolerant_of_new_keys():
    payload = msg.JobFailed(job_id="cl1", account_id="a", kind="tts", reason="boom").to_payload()
    assert msg.decode(ev.Event("JobFailed", {**payload, "addedLater": 1})).reason == "boom"
    for broken in ({**payload, "reason": 3}, {**payload, "jobId": 3}, {k: v for k, v in payload.items()
                                                                           if k != "jobId"}):
        with pytest.raises(msg.MessageDecodeError):
            msg.decode(ev.Event("JobFailed", broken))
    with pytest.raises(msg.MessageDecodeError):
        msg.decode(ev.Event("NoSuchEvent", payload))


def _mentions(path: Path, cls: type) -> bool:
    """Whether the file, or a module of its package that it imports, names the type or one of its bases."""
    names = {c.__name__ for c in cls.__mro__ if c not in (msg.Message, msg.Record, object)}
    sources = [path.read_text(encoding="utf-8")]
    for module in re.findall(r"^from \.(\w+) import", sources[0], re.M):
        sibling = path.parent / f"{module}.py"
        if sibling.exists():
            sources.append(sibling.read_text(encoding="utf-8"))
    return any(re.search(rf"\b{name}\b", source) for source in sources for name in names)


@pytest.mark.parametrize("cls", msg.MESSAGE_TYPES, ids=lambda cls: cls.WIRE_NAME)
def test_declared_producers_and_consumers_use_the_type(cls):
    for party in cls.PRODUCERS + cls.CONSUMERS:
        if not catalogue.is_path(party):
            continue
        path = ROOT / party
        assert path.exists(), f"{cls.WIRE_NAME}: {party} does not exist"
        assert _mentions(path, cls), f"{cls.WIRE_NAME}: {party} does not use {cls.__name__}"


def test_no_event_is_built_from_a_dict_literal_outside_schemas():
    offenders = []
    for folder in ("streams", "service_layer", "frontdoor", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if re.search(r"\bev\.Event\(|\bevents\.Event\(", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert offenders == []


def test_the_audio_formats_of_the_events_are_the_api_s():
    from typing import get_args

    from schemas.limits import AUDIO_FORMATS

    assert get_args(msg.AudioFormat) == tuple(AUDIO_FORMATS)
