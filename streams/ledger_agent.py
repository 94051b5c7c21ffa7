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
(streams/ledger_gaps.py) is noticed at the next one and read back from Kafka, so none is lost. A dropped command
at the end of a partition has no next one: once per consumer generation, when Faust has settled, a partition
with messages past the last one decided gets a nudge (a message with no command) that reveals them.
A crash before 4 redelivers the command, which is decided again on the state of 2 (old or new) into the same
event ids and sequences; the ledger may then hold identical duplicates, which every reader skips by
(account, sequence): evolve/replay, the projector's guarded upserts and the audit.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

import ledger
from adapters import kafka
from ledger import records
from schemas import events as ev
from schemas import messages as msg

from .app import app, dead_letter, ledger_topic, requests_topic, send, settings, settled
from .job_runs import CatchUpClock
from .ledger_gaps import Progress, handle_with_gaps
from .ledger_logic import (
    NUDGE_KEY,
    CoreCache,
    ledger_records,
    reply_envelope,
    request_command,
    reservation_reply,
    unhandled_tail,
)
from .sweeper_logic import undecidable_reservation

log = logging.getLogger(__name__)

RESERVATION_TTL = timedelta(seconds=settings.reservation_ttl_s)

accounts = app.Table(
    f"{settings.kafka_topic_prefix}-ledger-accounts",
    default=None,
    partitions=settings.kafka_partitions,
    key_type=bytes,
    value_type=bytes,
)

cores = CoreCache()


async def append_to_ledger(account_id: str, envelopes: list[ev.Event]) -> None:
    """Send every envelope, then wait until the broker has acknowledged all of them (order kept per partition)."""
    key = account_id.encode()
    pending = [await ledger_topic.send(key=key, value=envelope.encode()) for envelope in envelopes]
    if pending:
        await asyncio.gather(*pending)


async def reply(request: msg.Message, state: ledger.AccountState | None) -> None:
    """Answer a reservation request. Not awaited to the broker: the offset commit flushes it, and a lost reply
    only makes the front door answer 202 (pending), never a wrong answer."""
    if isinstance(request, msg.ReserveCreditsForJob):
        answer = reservation_reply(state, request)
        await send(answer, reply_envelope(answer), wait=False)


async def decide_one(message_key: bytes | None, raw: bytes | None, table) -> None:
    try:
        envelope, request = msg.read(raw)
        command = request_command(envelope, request, RESERVATION_TTL)
        if message_key != records.core_key(command.account_id):
            # Decided here, it would be decided by a partition that does not own the account.
            raise ledger.InvalidCommand(f"request keyed {message_key!r} is for account {command.account_id}")
        state = cores.load_state(table.get, command)
    except (ev.EventDecodeError, ledger.SerializationError, ledger.DomainError, KeyError, ValueError,
            TypeError) as exc:
        await dead_letter(message_key, raw, f"ledger: undecodable request: {exc!r}")
        # No reservation will ever exist for it: end its job now rather than leave it PENDING (the sweeper ends
        # it later when even its job id cannot be read).
        failed = undecidable_reservation(raw)
        if failed is not None:
            await send(*failed)
        return
    try:
        events = ledger.decide(state, command)
    except ledger.DomainError as exc:
        log.warning("ledger refused %s %s: %s", command.WIRE_NAME, command.command_id, exc)
        await dead_letter(message_key, raw, f"ledger: {type(exc).__name__}: {exc}")
        await reply(request, state)
        return
    after = state
    if events:
        await append_to_ledger(command.account_id, [record.envelope() for record in ledger_records(state, events)])
        for event in events:
            after = ledger.evolve(after, event)
        for key, value in records.records_after(after, events):
            table[key] = value
    await reply(request, after)


def _progress_key(partition: int) -> bytes:
    return f"\x1fprogress\x1f{partition}".encode()  # not an account's key: it holds the separator


# The last requests offset decided, per partition, kept in the table with the state it led to (written after the
# command's records, so it never runs ahead of them). It reveals the commands Faust sometimes drops.
progress = Progress(
    get=lambda partition: None if (raw := accounts.get(_progress_key(partition))) is None else int(raw),
    put=lambda partition, offset: accounts.__setitem__(_progress_key(partition), str(offset).encode()),
)


async def decide_command(key: bytes | None, raw: bytes | None) -> None:
    if key != NUDGE_KEY:  # a nudge only brings the gap check (handle_with_gaps) to its partition
        await decide_one(key, raw, accounts)


@app.agent(requests_topic)
async def decide_ledger_commands(stream):
    async for event in stream.events():
        await handle_with_gaps(event, progress, decide_command, what="ledger agent")


_nudge_clock = CatchUpClock()
_nudging: set[asyncio.Task] = set()  # a reference to each run, so it is not collected mid-run


async def nudge_dropped_tails(generation: int) -> list[int]:
    """Nudge each owned requests partition holding messages past the last one decided; returns the partitions."""
    topic = requests_topic.get_topic_name()
    owned = sorted(tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic)
    nudged = []
    for partition in owned:
        if app.consumer_generation_id != generation:  # a rebalance: the next generation looks again
            break
        try:
            _committed, _low, high = await asyncio.to_thread(kafka.group_position, settings, app.conf.id, topic,
                                                             partition)
        except Exception as exc:  # Kafka away: the next generation looks again
            log.warning("ledger agent: could not read the end of %s[%s]: %s", topic, partition, exc)
            continue
        last = progress.get(partition)
        if unhandled_tail(last, high):
            log.info("ledger agent: %s[%s] holds offsets %s-%s past the last command decided once Faust settled; "
                     "nudging it so they are read back", topic, partition, last + 1, high - 1)
            await (await requests_topic.send(key=NUDGE_KEY, value=b"", partition=partition))
            nudged.append(partition)
    return nudged


@app.timer(interval=1.0)
async def ledger_tail_check() -> None:
    generation = app.consumer_generation_id
    if _nudge_clock.due(generation, settled(), time.monotonic()):
        task = asyncio.ensure_future(nudge_dropped_tails(generation))
        _nudging.add(task)
        task.add_done_callback(_nudging.discard)
