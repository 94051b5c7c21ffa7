"""Every message on every topic, as a typed payload: one frozen dataclass per wire name.

Each message type declares, as class attributes, its ``WIRE_NAME`` (the envelope's ``name``; written explicitly,
never derived from the class name, since the ledger topic is kept for ever), its ``VERSION``, its ``TOPIC``, what
its Kafka key is, and who produces and consumes it (files, checked by tests/unit/test_event_catalogue.py).
``message.envelope()`` wraps it in the JSON envelope of schemas/events.py; ``read(raw)`` / ``decode(envelope)``
give it back, typed, through ``REGISTRY`` (wire name -> type), upcasting older versions first (``UPCASTERS``).
The event catalogue (docs/events.md) and the AsyncAPI document are generated from these types:
``python -m schemas.catalogue --write``.
"""
from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

import ledger

from . import events as ev
from .records import JsonObject, Record, encode_value, meta, wire_key
from .records import MessageDecodeError as MessageDecodeError  # raised by read / decode: part of this API

AudioFormat = Literal["mp3", "wav", "opus", "pcm"]

_ACCOUNT_KEY = "account id"
_JOB_KEY = "job id"

# Who produces and consumes what: the agent or use-case file (its own module or a same-package module it imports
# names the type; tests/unit/test_event_catalogue.py checks it), or a plain label for outside parties.
_FRONT_DOOR_JOBS = ("service_layer/paid_jobs.py",)
_LEDGER_AGENT = "streams/ledger_agent.py"
_ORCHESTRATOR = "streams/orchestrator.py"
_PROJECTOR = "streams/projector.py"
_TIMER = "streams/ledger_timer.py"
_SWEEPER = "streams/sweeper.py"
_NOTIFIER = "streams/notifier.py"
_REPLIES = "frontdoor/context.py"  # the front door's reply listener (adapters/kafka.py ReplyListener)
_AUDIT = "the operator's ledger audit (python -m frontdoor.admin audit)"


# --- records carried inside messages ---------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class VoiceSummary(Record):
    """The voice a speech job speaks with, as the speech view and the API show it."""
    id: str | None = field(metadata=meta(doc="voice id (null for a reference recording sent with the job)"))
    title: str | None
    cover_image: str | None
    type: str | None = field(metadata=meta(doc="SYSTEM, USER or REFERENCE"))


@dataclass(frozen=True, kw_only=True)
class TtsJob(Record):
    """A speech job, as the front door hands it to the orchestrator (inside the reservation and its reply)."""
    kind: Literal["tts"] = "tts"
    job_id: str = field(metadata=meta(doc="the speech id"))
    account_id: str
    text: str
    format: AudioFormat
    voice: VoiceSummary
    engine_voice: str | None = field(metadata=meta(doc="the synthesizer voice; null: the default"))
    profile: JsonObject | None = field(metadata=meta(doc="a cloned voice's profile (null for system voices)"))
    credits_used: int = field(metadata=meta(doc="the price, reserved before the job runs"))
    created_at: str = field(metadata=meta(doc="ISO-8601 UTC with milliseconds"))
    # The /v1 surface's options: absent from /api/v1 jobs (left out of the JSON when None).
    api: str | None = field(default=None, metadata=meta(omit_none=True, doc='"v1" for a /v1 job'))
    language: str | None = field(default=None, metadata=meta(omit_none=True, doc="the spoken language"))
    speed: float | None = field(default=None, metadata=meta(omit_none=True, doc="tempo factor; null: natural"))
    duration_s: float | None = field(default=None, metadata=meta(omit_none=True,
                                                                 doc="target length in seconds; wins over speed"))
    reference_key: str | None = field(default=None, metadata=meta(
        omit_none=True, doc="S3 key of a reference recording enrolled for this job only, deleted after it"))
    parameters: JsonObject | None = field(default=None, metadata=meta(
        omit_none=True, doc="the /v1 request as GET /v1/jobs/{id} shows it"))
    request_id: str | None = field(default=None, metadata=meta(
        omit_none=True, doc="the X-Request-Id of the HTTP request that made the job"))

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("kind") == ev.JOB_KIND_TTS


@dataclass(frozen=True, kw_only=True)
class CloneJob(Record):
    """A voice-clone job: its id is the new voice's id; the reference recording waits in S3."""
    kind: Literal["clone"] = "clone"
    job_id: str = field(metadata=meta(doc="the voice id"))
    account_id: str
    voice_id: str
    title: str
    description: str | None
    cover_image: str | None
    tags: tuple[str, ...]
    duration: float | None = field(metadata=meta(doc="seconds of reference audio"))
    reference_key: str = field(metadata=meta(doc="S3 key of the reference recording"))
    reference_mime_type: str
    reference_format: str
    reference_bytes: int
    credits_used: int
    created_at: str = field(metadata=meta(doc="ISO-8601 UTC with milliseconds"))
    request_id: str | None = field(default=None, metadata=meta(
        omit_none=True, doc="the X-Request-Id of the HTTP request that made the job"))

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("kind") == ev.JOB_KIND_CLONE


@dataclass(frozen=True, kw_only=True)
class OtherJob(Record):
    """A job of a kind no stage of this release runs (the ledger-only load of tests and benchmarks, or a kind a newer
    front door added): the ledger prices it all the same and hands it back as it came; no stage runs it."""
    kind: str
    job_id: str
    account_id: str
    credits_used: int
    data: JsonObject = field(default_factory=dict, metadata=meta(
        flat=True, doc="every other key of the job, kept as it came"))

    @classmethod
    def matches(cls, data: Mapping[str, Any]) -> bool:
        return data.get("kind") not in (ev.JOB_KIND_TTS, ev.JOB_KIND_CLONE)

    def to_dict(self) -> JsonObject:
        known = _OtherJobKeys(kind=self.kind, job_id=self.job_id, account_id=self.account_id,
                              credits_used=self.credits_used)
        return {**self.data, **known.to_dict()}  # keys already in data keep their place

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        known = _OtherJobKeys.from_dict(data)
        return cls(kind=known.kind, job_id=known.job_id, account_id=known.account_id,
                   credits_used=known.credits_used, data=dict(data))


@dataclass(frozen=True, kw_only=True)
class _OtherJobKeys(Record):
    """The keys of an OtherJob the ledger and the projector read (checked like any record's)."""
    kind: str
    job_id: str
    account_id: str
    credits_used: int


Job = TtsJob | CloneJob | OtherJob


def job_from_dict(data: Mapping[str, Any]) -> Job:
    """The typed job of a plain job dict (e.g. one a job view was seeded from)."""
    for kind in (TtsJob, CloneJob, OtherJob):
        if kind.matches(data):
            return kind.from_dict(data)
    raise MessageDecodeError(f"unknown job kind {data.get('kind')!r}")  # pragma: no cover - OtherJob matches


@dataclass(frozen=True, kw_only=True)
class BalanceAfter(Record):
    """An account's balance right after a ledger event: what GET /api/v1/credits shows, plus what is held."""
    credits: int
    regular: int
    permanent: int
    reset_at: str
    reserved: int
    sequence: int = field(metadata=meta(doc="the ledger event's position in the account's stream"))

    def to_dict(self) -> JsonObject:
        return {"credits": self.credits,
                "breakdown": {"regular": self.regular, "permanent": self.permanent, "resetAt": self.reset_at},
                "reserved": self.reserved, "sequence": self.sequence}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        breakdown = data.get("breakdown") if isinstance(data, Mapping) else None
        if not isinstance(breakdown, Mapping):
            raise MessageDecodeError("balanceAfter lacks its breakdown")
        return super().from_dict({**data, **breakdown})


@dataclass(frozen=True, kw_only=True)
class SpeechResult(Record):
    """What a finished speech job produced."""
    audio_key: str = field(metadata=meta(doc="S3 key of the audio"))
    duration: float = field(metadata=meta(doc="seconds of audio"))
    mime_type: str
    format: AudioFormat
    voice_id: str | None


@dataclass(frozen=True, kw_only=True)
class VoiceResult(Record):
    """What a finished clone job produced: the voice's profile for the synthesizer."""
    engine_voice: str
    profile: JsonObject
    enrolled_duration: float = field(metadata=meta(doc="seconds of reference audio the profile was made from"))
    reference_key: str | None = field(default=None, metadata=meta(
        omit_none=True, doc="S3 key of the voice's reference recording (the public voice.ready event shows it)"))


@dataclass(frozen=True, kw_only=True)
class StageTimings(Record):
    """When a job was asked for, started and ended, and how long it waited and ran (measured by the orchestrator)."""
    created_at: str | None = field(metadata=meta(doc="when the request was accepted (ISO-8601 UTC, ms)"))
    started_at: str = field(metadata=meta(doc="when the stage began its work"))
    finished_at: str = field(metadata=meta(doc="when the stage's work ended"))
    queued_ms: int | None = field(metadata=meta(doc="createdAt to startedAt, in milliseconds",
                                                schema={"minimum": 0}))
    run_ms: int = field(metadata=meta(doc="startedAt to finishedAt, in milliseconds", schema={"minimum": 0}))


# --- messages --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Message(Record):
    """The payload of one envelope. Subclasses declare every ClassVar below."""
    WIRE_NAME: ClassVar[str]
    VERSION: ClassVar[int] = 1
    TOPIC: ClassVar[str]
    KEY: ClassVar[str]                    # what the Kafka key is (documentation)
    PRODUCERS: ClassVar[tuple[str, ...]]  # files that build it
    CONSUMERS: ClassVar[tuple[str, ...]]  # files that read it

    def key(self) -> str:
        """The Kafka key to send it with."""
        raise NotImplementedError

    def correlation_id(self) -> str | None:
        return None

    def to_payload(self) -> JsonObject:
        return self.to_dict()

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Self:
        return cls.from_dict(payload)

    def envelope(self, *, id: str | None = None, occurred_at: str | None = None) -> ev.Event:
        """This message in the JSON envelope; ``id`` fixed when redeliveries must give the same one."""
        return ev.Event(
            self.WIRE_NAME, self.to_payload(), version=self.VERSION,
            id=id if id is not None else uuid.uuid4().hex,
            occurred_at=occurred_at if occurred_at is not None else ev.iso_millis(ev.utc_now()),
            correlation_id=self.correlation_id(),
        )


@dataclass(frozen=True, kw_only=True)
class _AccountMessage(Message):
    account_id: str

    def key(self) -> str:
        return self.account_id


@dataclass(frozen=True, kw_only=True)
class _JobCommand(_AccountMessage):
    TOPIC = ev.TOPIC_REQUESTS
    KEY = _ACCOUNT_KEY
    CONSUMERS = (_LEDGER_AGENT,)
    command_id: str = field(metadata=meta(doc='idempotency key: "reserve:", "capture:" or "release:" + job id'))
    job_id: str

    def correlation_id(self) -> str | None:
        return self.job_id


# requests topic: commands for the ledger agent ----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ReserveCreditsForJob(_JobCommand):
    """Hold a job's price; the ledger answers JobAccepted or JobRejected (ledger.Reserve)."""
    WIRE_NAME = "ReserveCreditsForJob"
    PRODUCERS = _FRONT_DOOR_JOBS
    amount: int
    job: Job = field(metadata=meta(doc="the job, handed back in the reply and run by the orchestrator"))

    @classmethod
    def for_job(cls, job: Job) -> Self:
        return cls(command_id=f"reserve:{job.job_id}", account_id=job.account_id, job_id=job.job_id,
                   amount=job.credits_used, job=job)


@dataclass(frozen=True, kw_only=True)
class CaptureJobCredits(_JobCommand):
    """Spend a finished job's price (ledger.Capture)."""
    WIRE_NAME = "CaptureJobCredits"
    PRODUCERS = (_ORCHESTRATOR,)
    amount: int

    @classmethod
    def for_job(cls, job: Job) -> Self:
        return cls(command_id=f"capture:{job.job_id}", account_id=job.account_id, job_id=job.job_id,
                   amount=job.credits_used)


@dataclass(frozen=True, kw_only=True)
class ReleaseJobCredits(_JobCommand):
    """Return a failed job's held price (ledger.Release)."""
    WIRE_NAME = "ReleaseJobCredits"
    PRODUCERS = (_ORCHESTRATOR, _SWEEPER)
    reason: str = field(default=ledger.ReleaseReason.FAILED.value, metadata=meta(doc="a ReleaseReason"))

    @classmethod
    def for_job(cls, job: Job) -> Self:
        return cls(command_id=f"release:{job.job_id}", account_id=job.account_id, job_id=job.job_id,
                   reason=ledger.ReleaseReason.FAILED.value)


@dataclass(frozen=True, kw_only=True)
class LedgerCommand(_AccountMessage):
    """Any other ledger command: OpenAccount, GrantCredits (operator), ExpireReservations, ResetMonthly (timer)."""
    WIRE_NAME = "LedgerCommand"
    TOPIC = ev.TOPIC_REQUESTS
    KEY = _ACCOUNT_KEY
    PRODUCERS = ("service_layer/credits.py", _TIMER)
    CONSUMERS = (_LEDGER_AGENT,)
    command: ledger.Command = field(metadata=meta(doc="ledger.to_dict of the command: {type, version, fields}"))

    @classmethod
    def of(cls, command: ledger.Command) -> Self:
        return cls(account_id=command.account_id, command=command)

    def to_dict(self) -> JsonObject:
        return {"accountId": self.account_id, "command": ledger.to_dict(self.command)}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Self:
        try:
            command = ledger.command_from_dict(payload["command"])
            return cls(account_id=payload["accountId"], command=command)
        except (KeyError, TypeError, ledger.SerializationError) as exc:
            raise MessageDecodeError(f"LedgerCommand: {exc!r}") from exc


# ledger topic: the source of truth, kept for ever -------------------------------------------------------------------

E = TypeVar("E", bound=ledger.Event)


@dataclass(frozen=True, kw_only=True)
class LedgerRecord(_AccountMessage, Generic[E]):
    """A ledger event with the balance right after it; one subclass per ledger event type, named as it is."""
    TOPIC = ev.TOPIC_LEDGER
    KEY = _ACCOUNT_KEY
    PRODUCERS = (_LEDGER_AGENT,)
    CONSUMERS: ClassVar[tuple[str, ...]] = (_PROJECTOR, _AUDIT)
    LEDGER_EVENT: ClassVar[type[ledger.Event]]
    ledger_event: E = field(metadata=meta(doc="ledger.to_dict of the event: {type, version, fields}"))
    balance_after: BalanceAfter

    def to_dict(self) -> JsonObject:
        return {"accountId": self.account_id, "ledgerEvent": ledger.to_dict(self.ledger_event),
                "balanceAfter": self.balance_after.to_dict()}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Self:
        try:
            event = ledger.event_from_dict(payload["ledgerEvent"])
            account_id, balance = payload["accountId"], BalanceAfter.from_dict(payload["balanceAfter"])
        except (KeyError, TypeError, ledger.SerializationError) as exc:
            raise MessageDecodeError(f"{cls.WIRE_NAME}: {exc!r}") from exc
        if not isinstance(event, cls.LEDGER_EVENT) or not isinstance(account_id, str):
            raise MessageDecodeError(f"{cls.WIRE_NAME} envelope holds a {event.WIRE_NAME}")
        return cls(account_id=account_id, ledger_event=event, balance_after=balance)  # type: ignore[arg-type]

    def correlation_id(self) -> str | None:
        job_id = getattr(self.ledger_event, "job_id", None)
        return job_id if isinstance(job_id, str) else None

    def envelope(self, *, id: str | None = None, occurred_at: str | None = None) -> ev.Event:
        """Envelope id = the event id and time = the event's: a re-decided command re-appends the same record."""
        return super().envelope(id=id or self.ledger_event.event_id,
                                occurred_at=occurred_at or ev.iso_millis(self.ledger_event.at))


@dataclass(frozen=True, kw_only=True)
class AccountOpenedRecord(LedgerRecord[ledger.AccountOpened]):
    WIRE_NAME = ledger.AccountOpened.WIRE_NAME
    LEDGER_EVENT = ledger.AccountOpened


@dataclass(frozen=True, kw_only=True)
class CreditsGrantedRecord(LedgerRecord[ledger.CreditsGranted]):
    WIRE_NAME = ledger.CreditsGranted.WIRE_NAME
    LEDGER_EVENT = ledger.CreditsGranted


@dataclass(frozen=True, kw_only=True)
class CreditsReservedRecord(LedgerRecord[ledger.CreditsReserved]):
    WIRE_NAME = ledger.CreditsReserved.WIRE_NAME
    LEDGER_EVENT = ledger.CreditsReserved


@dataclass(frozen=True, kw_only=True)
class ReservationRefusedRecord(LedgerRecord[ledger.ReservationRefused]):
    WIRE_NAME = ledger.ReservationRefused.WIRE_NAME
    LEDGER_EVENT = ledger.ReservationRefused


@dataclass(frozen=True, kw_only=True)
class ReservationCapturedRecord(LedgerRecord[ledger.ReservationCaptured]):
    WIRE_NAME = ledger.ReservationCaptured.WIRE_NAME
    LEDGER_EVENT = ledger.ReservationCaptured


@dataclass(frozen=True, kw_only=True)
class ReservationReleasedRecord(LedgerRecord[ledger.ReservationReleased]):
    WIRE_NAME = ledger.ReservationReleased.WIRE_NAME
    CONSUMERS = (_PROJECTOR, _TIMER, _AUDIT)  # the timer fails the job of an expired reservation
    LEDGER_EVENT = ledger.ReservationReleased


@dataclass(frozen=True, kw_only=True)
class MonthlyAllowanceResetRecord(LedgerRecord[ledger.MonthlyAllowanceReset]):
    WIRE_NAME = ledger.MonthlyAllowanceReset.WIRE_NAME
    LEDGER_EVENT = ledger.MonthlyAllowanceReset


LEDGER_RECORD_TYPES: tuple[type[LedgerRecord[Any]], ...] = (
    AccountOpenedRecord, CreditsGrantedRecord, CreditsReservedRecord, ReservationRefusedRecord,
    ReservationCapturedRecord, ReservationReleasedRecord, MonthlyAllowanceResetRecord,
)
_RECORD_BY_EVENT: dict[type[ledger.Event], type[LedgerRecord[Any]]] = {t.LEDGER_EVENT: t for t in LEDGER_RECORD_TYPES}


def ledger_record(event: ledger.Event, balance_after: BalanceAfter) -> LedgerRecord[Any]:
    """The ledger-topic message of one domain event."""
    return _RECORD_BY_EVENT[type(event)](account_id=event.account_id, ledger_event=event,
                                         balance_after=balance_after)


# jobs topic: a job's life, key = job id -----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class _JobEvent(Message):
    TOPIC = ev.TOPIC_JOBS
    KEY = _JOB_KEY
    job_id: str
    account_id: str
    kind: str = field(metadata=meta(doc='"tts" or "clone" (another kind: an OtherJob, which no stage runs)'))

    def key(self) -> str:
        return self.job_id

    def correlation_id(self) -> str | None:
        return self.job_id


@dataclass(frozen=True, kw_only=True)
class JobAccepted(_JobEvent):
    """The ledger held the job's price: the orchestrator runs the job; the front door answers 200."""
    WIRE_NAME = "JobAccepted"
    PRODUCERS = (_LEDGER_AGENT,)
    CONSUMERS = (_ORCHESTRATOR, _PROJECTOR, _REPLIES)
    job: Job


@dataclass(frozen=True, kw_only=True)
class JobRejected(_JobEvent):
    """The ledger refused the job's price: the front door answers 429 with these numbers."""
    WIRE_NAME = "JobRejected"
    PRODUCERS = (_LEDGER_AGENT,)
    CONSUMERS = (_PROJECTOR, _REPLIES, _NOTIFIER, _ORCHESTRATOR, "service_layer/paid_jobs.py")
    job: Job
    credits: int = field(metadata=meta(doc="what the account had"))
    need_credits: int = field(metadata=meta(doc="what the job needed"))

    @property
    def reason(self) -> str:
        """The job's error, as its view and its public completion event show it."""
        return f"Insufficient credits: have {self.credits}, need {self.need_credits}"


@dataclass(frozen=True, kw_only=True)
class JobStarted(_JobEvent):
    """The orchestrator began the job's work."""
    WIRE_NAME = "JobStarted"
    PRODUCERS = (_ORCHESTRATOR,)
    CONSUMERS = (_PROJECTOR,)


@dataclass(frozen=True, kw_only=True)
class _JobOutcome(_JobEvent):
    """JobCompleted / JobFailed: besides the job's end, what its public completion event tells (all optional: the
    timer's expiry failures and events written before these fields have none)."""
    credits_used: int | None = field(default=None, metadata=meta(
        omit_none=True, doc="the job's price: captured on completion, released on failure"))
    api: str | None = field(default=None, metadata=meta(omit_none=True, doc='"v1" for a /v1 job'))
    timings: StageTimings | None = field(default=None, metadata=meta(omit_none=True))
    request_id: str | None = field(default=None, metadata=meta(
        omit_none=True, doc="X-Request-Id of the request that asked for the job"))

    def outcome_fields(self) -> JsonObject:
        """The optional fields above, as JSON (None left out)."""
        out: JsonObject = {}
        for f in dataclasses.fields(_JobOutcome):
            value = getattr(self, f.name)
            if f.name in _OUTCOME_FIELDS and value is not None:
                out[wire_key(f)] = encode_value(value)
        return out


_OUTCOME_FIELDS = ("credits_used", "api", "timings", "request_id")


@dataclass(frozen=True, kw_only=True)
class JobCompleted(_JobOutcome):
    """A job's result: a speech's audio or a voice's profile, flat in the payload beside the job fields."""
    WIRE_NAME = "JobCompleted"
    PRODUCERS = (_ORCHESTRATOR,)
    CONSUMERS = (_PROJECTOR, _NOTIFIER)
    result: SpeechResult | VoiceResult = field(metadata=meta(
        flat=True, doc="flat in the payload: SpeechResult's fields (kind tts) or VoiceResult's (kind clone)"))

    def to_dict(self) -> JsonObject:
        return {"jobId": self.job_id, "accountId": self.account_id, "kind": self.kind, **self.result.to_dict(),
                **self.outcome_fields()}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Self:
        kind = payload.get("kind")
        result: SpeechResult | VoiceResult
        if kind == ev.JOB_KIND_TTS:
            result = SpeechResult.from_dict(payload)
        elif kind == ev.JOB_KIND_CLONE:
            result = VoiceResult.from_dict(payload)
        else:
            raise MessageDecodeError(f"JobCompleted of unknown kind {kind!r}")
        outcome = JobFailed.from_dict({**payload, "reason": ""})  # the shared fields, decoded the same way
        return cls(job_id=outcome.job_id, account_id=outcome.account_id, kind=kind, result=result,
                   **{name: getattr(outcome, name) for name in _OUTCOME_FIELDS})


@dataclass(frozen=True, kw_only=True)
class JobFailed(_JobOutcome):
    """The job ended without a result; its price is released (no charge)."""
    WIRE_NAME = "JobFailed"
    PRODUCERS = (_ORCHESTRATOR, _TIMER, _SWEEPER, _LEDGER_AGENT)
    CONSUMERS = (_PROJECTOR, _NOTIFIER)
    reason: str = field(metadata=meta(doc="what the user sees as the job's error"))


# completions topic: the public contract (schemas/completions.asyncapi.json) ----------------------------------------
# One event per job that ended, on either surface: speech (/api/v1/tts, /v1/tts) and voice cloning
# (/api/v1/voice-clone, /v1/custom-voices); and webhook.disabled (WebhookDisabled), when the service disables one of
# the account's webhooks. Key = ACCOUNT id, so each account's events keep their order.
# Version 2 (issue 10): key moved from speech id to account id, fields added; version-1 events upcast (UPCASTERS).

_WEBHOOKS = "streams/webhooks.py"


@dataclass(frozen=True, kw_only=True)
class _Completion(Message):
    VERSION = 2
    TOPIC = ev.TOPIC_COMPLETIONS
    KEY = _ACCOUNT_KEY
    PRODUCERS = (_NOTIFIER,)
    CONSUMERS = ("outside consumers", _WEBHOOKS)
    job_id: str = field(metadata=meta(doc="The job's id: the speech id, or the voice id of a clone job."))
    account_id: str
    api: str | None = field(metadata=meta(doc='"v1" for a speech job sent to /v1/voice-cloning/tts; null otherwise.'))
    voice_id: str | None = field(metadata=meta(
        doc="The voice spoken with (speech; null for a one-off reference recording) or made (voice)."))
    credits_charged: int | None = field(metadata=meta(
        doc="Credits spent on the job: its price when it succeeded, 0 when it failed (null: not recorded).",
        schema={"minimum": 0}))
    timings: StageTimings | None = field(metadata=meta(doc="Stage timings (null when the job never started)."))
    request_id: str | None = field(metadata=meta(doc="X-Request-Id of the request that asked for the job."))

    def key(self) -> str:
        return self.account_id

    def correlation_id(self) -> str | None:
        return self.job_id


@dataclass(frozen=True, kw_only=True)
class SpeechCompleted(_Completion):
    """A speech job produced its audio."""
    WIRE_NAME = "speech.completed"
    status: Literal["COMPLETED"] = "COMPLETED"
    speech_id: str = field(metadata=meta(doc="Same as jobId (kept from version 1)."))
    format: AudioFormat
    audio_key: str | None = field(metadata=meta(
        doc="The audio's object key in the deployment's bucket (null only in events upcast from version 1)."))
    duration: float = field(metadata=meta(doc="Seconds of audio.", schema={"minimum": 0}))
    mime_type: str = field(metadata=meta(schema={"examples": ["audio/mpeg"]}))


@dataclass(frozen=True, kw_only=True)
class SpeechFailed(_Completion):
    """A speech job ended without audio: it failed (its price was released) or the ledger refused its price for lack
    of credits (``error`` says so; sent whether the HTTP answer was 429 or a 202 the refusal came after)."""
    WIRE_NAME = "speech.failed"
    status: Literal["FAILED"] = "FAILED"
    speech_id: str = field(metadata=meta(doc="Same as jobId (kept from version 1)."))
    error: str | None = field(metadata=meta(
        doc='Why the job failed; no credits were charged ("Insufficient credits: have N, need M" when refused).'))


@dataclass(frozen=True, kw_only=True)
class VoiceReady(_Completion):
    """A cloned voice was enrolled and can be spoken with."""
    WIRE_NAME = "voice.ready"
    status: Literal["COMPLETED"] = "COMPLETED"
    audio_key: str | None = field(metadata=meta(doc="The reference recording's object key."))
    duration: float = field(metadata=meta(doc="Seconds of reference audio enrolled.", schema={"minimum": 0}))


@dataclass(frozen=True, kw_only=True)
class VoiceFailed(_Completion):
    """A voice could not be enrolled (its price was released), or the ledger refused its price for lack of credits
    (``error`` says so; sent whether the HTTP answer was 429 or a 202 the refusal came after)."""
    WIRE_NAME = "voice.failed"
    status: Literal["FAILED"] = "FAILED"
    error: str | None = field(metadata=meta(
        doc='Why enrolment failed; no credits were charged ("Insufficient credits: have N, need M" when refused).'))


@dataclass(frozen=True, kw_only=True)
class WebhookDisabled(_AccountMessage):
    """The service disabled one of the account's webhooks because its deliveries kept failing (docs/webhooks.md):
    told where the account hears of its jobs — this topic, and its other webhooks that subscribe to it (the
    disabled one logs it cancelled). A webhook disabled through the API is not announced: its account did it."""
    WIRE_NAME = "webhook.disabled"
    TOPIC = ev.TOPIC_COMPLETIONS
    KEY = _ACCOUNT_KEY
    PRODUCERS = (_WEBHOOKS,)
    CONSUMERS = ("outside consumers", _WEBHOOKS)
    webhook_id: str = field(metadata=meta(doc="The webhook disabled (also the envelope's correlationId)."))
    url: str = field(metadata=meta(doc="Where its deliveries were POSTed."))
    reason: str = field(metadata=meta(doc="Its disabledReason: how many deliveries failed in a row, since when."))
    disabled_at: str = field(metadata=meta(doc="When it was disabled (ISO-8601 UTC, ms)."))
    failed_deliveries_in_a_row: int = field(metadata=meta(schema={"minimum": 0}))
    failing_since: str | None = field(metadata=meta(
        doc="When the first of those deliveries failed (ISO-8601 UTC, ms)."))

    def correlation_id(self) -> str | None:
        return self.webhook_id


def _completion_v1_to_v2(payload: JsonObject) -> JsonObject:
    """Version 1 (speech only, key = speech id) had no job id, voice, charge, timings nor request id."""
    return {"jobId": payload.get("speechId"), "api": None, "voiceId": None, "creditsCharged": None,
            "timings": None, "requestId": None, **({"audioKey": None} if "format" in payload else {}), **payload}


# deadletters topic --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DeadLetter(Message):
    """A message no consumer could decode or handle, kept for an operator to read."""
    WIRE_NAME = "DeadLetter"
    TOPIC = ev.TOPIC_DEAD_LETTERS
    KEY = "the original message's key"
    PRODUCERS = ("streams/app.py",)
    CONSUMERS = ("operators",)
    reason: str
    raw: str = field(metadata=meta(doc="the original message body (UTF-8, undecodable bytes replaced)"))


# webhookdeliveries topic: the webhook delivery queue (docs/webhooks.md) --------------------------------------------

@dataclass(frozen=True, kw_only=True)
class WebhookDeliveryDue(Message):
    """One attempt to POST a completion event to one endpoint, queued when it is due: the first by the fan-out,
    each retry (exponential backoff with jitter, or the receiver's Retry-After) from the delivery log once it comes
    due. The worker that takes it up in the log makes it; other copies are no-ops."""
    WIRE_NAME = "WebhookDeliveryDue"
    TOPIC = ev.TOPIC_WEBHOOKS
    KEY = "delivery id"
    PRODUCERS = (_WEBHOOKS,)
    CONSUMERS = (_WEBHOOKS,)
    delivery_id: str = field(metadata=meta(doc='"<event id>.<endpoint id>": the delivery log\'s document id'))
    endpoint_id: str
    account_id: str
    attempt: int = field(metadata=meta(doc="1 for the first attempt"))
    due_at: str = field(metadata=meta(doc="when it was queued, due (ISO-8601 UTC, ms); the log's nextRetryAt rules"))
    body: str = field(metadata=meta(doc="the completion event's envelope, exactly as POSTed and signed"))

    def key(self) -> str:
        return self.delivery_id


# --- registry --------------------------------------------------------------------------------------------------------

MESSAGE_TYPES: tuple[type[Message], ...] = (
    ReserveCreditsForJob, CaptureJobCredits, ReleaseJobCredits, LedgerCommand,
    *LEDGER_RECORD_TYPES,
    JobAccepted, JobRejected, JobStarted, JobCompleted, JobFailed,
    SpeechCompleted, SpeechFailed, VoiceReady, VoiceFailed, WebhookDisabled,
    DeadLetter,
    WebhookDeliveryDue,
)


def _registry(types: tuple[type[Message], ...]) -> dict[str, type[Message]]:
    found: dict[str, type[Message]] = {}
    for cls in types:
        name = cls.__dict__.get("WIRE_NAME")  # its own, never a parent's
        if not isinstance(name, str) or name in found:
            raise TypeError(f"{cls.__qualname__} needs its own, unique WIRE_NAME")
        found[name] = cls
    return found


REGISTRY: dict[str, type[Message]] = _registry(MESSAGE_TYPES)

# (wire name, old version) -> the payload one version later. A message whose fields change meaning gets VERSION + 1
# and an entry here, so what is already on a topic (the ledger's: for ever) keeps decoding. The public completion
# events are at version 2 (issue 10).
Upcaster = Callable[[JsonObject], JsonObject]
UPCASTERS: dict[tuple[str, int], Upcaster] = {
    (SpeechCompleted.WIRE_NAME, 1): _completion_v1_to_v2,
    (SpeechFailed.WIRE_NAME, 1): _completion_v1_to_v2,
}

M = TypeVar("M", bound=Message)


def decode(envelope: ev.Event, *, registry: Mapping[str, type[Message]] = REGISTRY,
           upcasters: Mapping[tuple[str, int], Upcaster] = UPCASTERS) -> Message:
    """The typed message of an envelope; MessageDecodeError for an unknown name, version or payload."""
    cls = registry.get(envelope.name)
    if cls is None:
        raise MessageDecodeError(f"unknown message {envelope.name!r}")
    payload, version = dict(envelope.payload), envelope.version
    while version < cls.VERSION and (envelope.name, version) in upcasters:
        payload, version = upcasters[(envelope.name, version)](payload), version + 1
    if version != cls.VERSION:
        raise MessageDecodeError(f"{envelope.name} version {envelope.version} is not supported (want {cls.VERSION})")
    return cls.from_payload(payload)


def read(raw: bytes | str | None) -> tuple[ev.Event, Message]:
    """Envelope and typed message of a Kafka message value; EventDecodeError (or its MessageDecodeError)."""
    envelope = ev.decode(raw if raw is not None else b"")
    return envelope, decode(envelope)


def read_as(raw: bytes | str | None, kind: type[M]) -> tuple[ev.Event, M]:
    """Like ``read``, for a consumer that accepts one type only."""
    envelope, message = read(raw)
    if not isinstance(message, kind):
        raise MessageDecodeError(f"expected {kind.WIRE_NAME}, got {envelope.name}")
    return envelope, message


def _text(payload: Mapping[str, Any], key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str):
        raise MessageDecodeError(f"{key} must be a string, got {value!r}")
    return value
