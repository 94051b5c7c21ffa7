"""The ledger agent: decides every credit command for an account, in order, as the owner of its partition.

Input: the requests topic (key = account id; every producer hashes keys with murmur2, so an account's commands
share one partition and one owner). Output: ledger events on the ledger topic (the source of truth, each carrying
the balance after it for the projector) and, for job reservations, JobAccepted / JobRejected on the jobs topic,
which the front door awaits (request/reply by job id).

State is a Faust table restored from its changelog, kept as small records (ledger/records.py): per account a
core (balances, open reservations) and a memo per ended job and per applied command. A command delivered twice
(redelivery, client retry, worker restart) finds its memo and decides nothing; a reservation request is then
answered again from the recorded outcome.

Order of effects per command, which is what makes a crash at any point harmless:
  1. the events are appended to the ledger topic and acknowledged by the broker;
  2. the table records are written (memos first, the core last; one changelog partition, so a crash keeps a
     prefix, and memos newer than their core are ignored);
  3. the reply is sent;
  4. the offset is committed later; Faust flushes the producer (changelog and replies) before committing.
The table also records, per partition, the last requests offset decided: a command Faust drops around a restart
(streams/ledger_gaps.py) is noticed at the next one and read back from Kafka, so none is lost.
A crash before 4 redelivers the command, which is decided again on the state of 2 (old or new) into the same
event ids and sequences; the ledger may then hold identical duplicates, which every reader skips by
(account, sequence): evolve/replay, the projector's guarded upserts and the audit.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import ledger
from ledger import records
from schemas import events as ev

from .app import app, dead_letter, jobs_topic, ledger_topic, requests_topic, settings
from .ledger_gaps import Progress, handle_with_gaps

log = logging.getLogger(__name__)

RESERVATION_TTL = timedelta(seconds=settings.reservation_ttl_s)

accounts = app.Table(
    f"{settings.kafka_topic_prefix}-ledger-accounts",
    default=None,
    partitions=settings.kafka_partitions,
    key_type=bytes,
    value_type=bytes,
)

# Parsed core records, reused while the table still holds the very bytes they were parsed from.
_cores: dict[bytes, tuple[bytes, ledger.AccountState]] = {}


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


def core_of(table, key: bytes) -> ledger.AccountState | None:
    """The account's core record, parsed once per stored value."""
    raw = table.get(key)
    if raw is None:
        return None
    cached = _cores.get(key)
    if cached is not None and cached[0] is raw:
        return cached[1]
    state = records.core_from_bytes(raw)
    _cores[key] = (raw, state)
    return state


def load_state(table, command: ledger.Command) -> ledger.AccountState | None:
    """The state to decide `command` with: the account's core plus this command's memos."""
    core = core_of(table, records.core_key(command.account_id))
    if core is None:
        return None
    return records.decision_state(command.account_id, command.command_id, getattr(command, "job_id", None),
                                  table.get, core=core)


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


async def append_to_ledger(account_id: str, envelopes: list[ev.Event]) -> None:
    """Send every envelope, then wait until the broker has acknowledged all of them (order kept per partition)."""
    key = account_id.encode()
    pending = [await ledger_topic.send(key=key, value=envelope.encode()) for envelope in envelopes]
    if pending:
        await asyncio.gather(*pending)


async def reply(request: ev.Event, state: ledger.AccountState | None) -> None:
    """Answer a reservation request. Not awaited to the broker: the offset commit flushes it, and a lost reply
    only makes the front door answer 202 (pending), never a wrong answer."""
    answer = reservation_reply(state, request)
    await jobs_topic.send(key=request.payload["jobId"].encode(), value=answer.encode())


async def decide_one(message_key: bytes | None, raw: bytes | None, table) -> None:
    try:
        request = ev.decode(raw)
        command = to_command(request)
        if message_key != records.core_key(command.account_id):
            # Decided here, it would be decided by a partition that does not own the account.
            raise ledger.InvalidCommand(f"request keyed {message_key!r} is for account {command.account_id}")
        state = load_state(table, command)
    except (ev.EventDecodeError, ledger.SerializationError, ledger.DomainError, KeyError, ValueError,
            TypeError) as exc:
        await dead_letter(message_key, raw, f"ledger: undecodable request: {exc!r}")
        return
    try:
        events = ledger.decide(state, command)
    except ledger.DomainError as exc:
        log.warning("ledger refused %s %s: %s", type(command).__name__, command.command_id, exc)
        await dead_letter(message_key, raw, f"ledger: {type(exc).__name__}: {exc}")
        if request.name == ev.RESERVE_FOR_JOB:
            await reply(request, state)
        return
    after = state
    if events:
        await append_to_ledger(command.account_id, ledger_envelopes(state, events))
        for event in events:
            after = ledger.evolve(after, event)
        for key, value in records.records_after(after, events):
            table[key] = value
    if request.name == ev.RESERVE_FOR_JOB:
        await reply(request, after)


def _progress_key(partition: int) -> bytes:
    return f"\x1fprogress\x1f{partition}".encode()  # not an account's key: it holds the separator


# The last requests offset decided, per partition, kept in the table with the state it led to (written after the
# command's records, so it never runs ahead of them). It reveals the commands Faust sometimes drops.
progress = Progress(
    get=lambda partition: None if (raw := accounts.get(_progress_key(partition))) is None else int(raw),
    put=lambda partition, offset: accounts.__setitem__(_progress_key(partition), str(offset).encode()),
)


@app.agent(requests_topic)
async def decide_ledger_commands(stream):
    async for event in stream.events():
        await handle_with_gaps(event, progress, lambda key, raw: decide_one(key, raw, accounts), what="ledger agent")
