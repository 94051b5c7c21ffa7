"""The ledger agent: decides every credit command for an account, in order, as the owner of its partition.

Input: the requests topic (key = account id). Output: ledger events on the ledger topic (the source of truth,
each carrying the balance after it for the projector) and, for job reservations, JobAccepted / JobRejected on the
jobs topic, which the front door awaits. State is a Faust table restored from its changelog. A redelivered
command changes nothing (the domain ignores known command ids) but is answered again from the recorded outcome.
"""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import ledger
from ledger.snapshot import state_from_dict, state_to_dict
from schemas import events as ev

from .app import app, dead_letter, jobs_topic, ledger_topic, publish, requests_topic, settings

log = logging.getLogger(__name__)

RESERVATION_TTL = timedelta(seconds=settings.reservation_ttl_s)

accounts = app.Table(
    f"{settings.kafka_topic_prefix}-ledger-accounts",
    default=None,
    partitions=settings.kafka_partitions,
    key_type=bytes,
    value_type=bytes,
)


def to_command(request: ev.Event) -> ledger.Command:
    """Translate a request event into the ledger command it stands for."""
    p = request.payload
    at = ev.parse_iso(request.occurred_at)
    if request.name == ev.RESERVE_FOR_JOB:
        return ledger.Reserve(command_id=p["commandId"], account_id=p["accountId"], at=at, job_id=p["jobId"],
                              amount=int(p["amount"]), expires_at=at + RESERVATION_TTL)
    if request.name == ev.CAPTURE_FOR_JOB:
        return ledger.Capture(command_id=p["commandId"], account_id=p["accountId"], at=at, job_id=p["jobId"],
                              amount=int(p["amount"]))
    if request.name == ev.RELEASE_FOR_JOB:
        return ledger.Release(command_id=p["commandId"], account_id=p["accountId"], at=at, job_id=p["jobId"],
                              reason=p.get("reason", "failed"))
    if request.name == ev.LEDGER_COMMAND:
        return ledger.command_from_dict(p["command"])
    raise ledger.SerializationError(f"unknown request {request.name!r}")


def load_state(raw: bytes | None) -> ledger.AccountState | None:
    return None if raw is None else state_from_dict(json.loads(raw))


def dump_state(state: ledger.AccountState) -> bytes:
    return json.dumps(state_to_dict(state), separators=(",", ":")).encode()


def ledger_envelopes(state: ledger.AccountState | None, events: list[ledger.Event]) -> list[ev.Event]:
    """Wrap each domain event with the balance right after it, so the credit view needs no fold of its own."""
    envelopes = []
    for event in events:
        state = ledger.evolve(state, event)
        balance = {**ledger.to_view(state), "reserved": state.reserved_total, "sequence": event.sequence}
        envelopes.append(ev.Event(
            type(event).__name__,
            {"accountId": event.account_id, "ledgerEvent": ledger.to_dict(event), "balanceAfter": balance},
            id=event.event_id,
            occurred_at=ev.iso_millis(event.at),
            correlation_id=getattr(event, "job_id", None),
        ))
    return envelopes


def reservation_reply(state: ledger.AccountState | None, request: ev.Event) -> ev.Event:
    job = request.payload["job"]
    job_id = request.payload["jobId"]
    base = {"jobId": job_id, "accountId": request.payload["accountId"], "kind": job.get("kind"), "job": job}
    outcome = state.reservation_outcome(job_id) if state is not None else None
    if outcome is None or outcome.status == ledger.ReservationStatus.REFUSED:
        numbers = ledger.to_refusal_view(outcome) if outcome is not None else {
            "credits": 0, "needCredits": int(request.payload["amount"])}
        return ev.Event(ev.JOB_REJECTED, {**base, **numbers}, id=f"rejected:{job_id}", correlation_id=job_id)
    return ev.Event(ev.JOB_ACCEPTED, base, id=f"accepted:{job_id}", correlation_id=job_id)


@app.agent(requests_topic)
async def decide_ledger_commands(stream):
    async for message in stream.events():
        try:
            request = ev.decode(message.value)
            command = to_command(request)
        except (ev.EventDecodeError, ledger.SerializationError, ledger.DomainError, KeyError, ValueError,
                TypeError) as exc:
            await dead_letter(message.key, message.value, f"ledger: undecodable request: {exc!r}")
            continue
        key = command.account_id.encode()
        state = load_state(accounts.get(key))
        try:
            events = ledger.decide(state, command)
        except ledger.DomainError as exc:
            log.warning("ledger refused %s %s: %s", type(command).__name__, command.command_id, exc)
            await dead_letter(message.key, message.value, f"ledger: {type(exc).__name__}: {exc}")
            if request.name == ev.RESERVE_FOR_JOB:
                await publish(jobs_topic, request.payload["jobId"], reservation_reply(state, request))
            continue
        # Append to the source of truth first; only then remember the new state. A crash in between redelivers
        # the command, which is decided again into the same event ids and sequences (duplicates fold away).
        for envelope in ledger_envelopes(state, events):
            await publish(ledger_topic, command.account_id, envelope)
        for event in events:
            state = ledger.evolve(state, event)
        if events:
            accounts[key] = dump_state(state)
        if request.name == ev.RESERVE_FOR_JOB:
            await publish(jobs_topic, request.payload["jobId"], reservation_reply(state, request))
