"""What the ledger agent decides, without Faust or Kafka: request -> ledger command, domain events -> ledger-topic
records (each with the balance after it), and the reply to a reservation request."""
from __future__ import annotations

from datetime import datetime, timedelta

import ledger
from ledger import records
from schemas import events as ev
from schemas import messages as msg


def to_command(request: msg.Message, at: datetime, reservation_ttl: timedelta) -> ledger.Command:
    """The ledger command a request stands for; ``at`` is the request's time (its envelope's occurredAt).
    LedgerCommand carries any other ledger command (open, grant, expire, reset) as it is."""
    match request:
        case msg.ReserveCreditsForJob():
            return ledger.Reserve(command_id=request.command_id, account_id=request.account_id, at=at,
                                  job_id=request.job_id, amount=request.amount, expires_at=at + reservation_ttl)
        case msg.CaptureJobCredits():
            return ledger.Capture(command_id=request.command_id, account_id=request.account_id, at=at,
                                  job_id=request.job_id, amount=request.amount)
        case msg.ReleaseJobCredits():
            return ledger.Release(command_id=request.command_id, account_id=request.account_id, at=at,
                                  job_id=request.job_id, reason=request.reason)
        case msg.LedgerCommand():
            return request.command
    raise ledger.SerializationError(f"not a ledger request: {request.WIRE_NAME}")


def request_command(envelope: ev.Event, request: msg.Message, reservation_ttl: timedelta) -> ledger.Command:
    return to_command(request, ev.parse_iso(envelope.occurred_at), reservation_ttl)


def balance_after(state: ledger.AccountState, sequence: int) -> msg.BalanceAfter:
    view = ledger.to_view(state)
    return msg.BalanceAfter(credits=view["credits"], regular=view["breakdown"]["regular"],
                            permanent=view["breakdown"]["permanent"], reset_at=view["breakdown"]["resetAt"],
                            reserved=state.reserved_total, sequence=sequence)


def ledger_records(state: ledger.AccountState | None,
                   events: list[ledger.Event]) -> list[msg.LedgerRecord[ledger.Event]]:
    """Each domain event with the balance right after it, so the credit view needs no fold of its own."""
    out = []
    for event in events:
        state = ledger.evolve(state, event)
        out.append(msg.ledger_record(event, balance_after(state, event.sequence)))
    return out


def reservation_reply(state: ledger.AccountState | None,
                      request: msg.ReserveCreditsForJob) -> msg.JobAccepted | msg.JobRejected:
    """JobAccepted when the job's price is held, else JobRejected with what the account had and needed."""
    outcome = state.reservation_outcome(request.job_id) if state is not None else None
    job = request.job
    if outcome is None or outcome.status == ledger.ReservationStatus.REFUSED:
        numbers = ledger.to_refusal_view(outcome) if outcome is not None else {
            "credits": 0, "needCredits": request.amount}
        return msg.JobRejected(job_id=request.job_id, account_id=request.account_id, kind=job.kind, job=job,
                               credits=numbers["credits"], need_credits=numbers["needCredits"])
    return msg.JobAccepted(job_id=request.job_id, account_id=request.account_id, kind=job.kind, job=job)


def reply_envelope(reply: msg.JobAccepted | msg.JobRejected) -> ev.Event:
    """A fixed id per job and answer: a request decided twice is answered twice with the same envelope id."""
    verb = "accepted" if isinstance(reply, msg.JobAccepted) else "rejected"
    return reply.envelope(id=f"{verb}:{reply.job_id}")


class CoreCache:
    """Parsed core records, reused while the table still holds the very bytes they were parsed from."""

    def __init__(self) -> None:
        self._cores: dict[bytes, tuple[bytes, ledger.AccountState]] = {}

    def core_of(self, get: records.Lookup, key: bytes) -> ledger.AccountState | None:
        raw = get(key)
        if raw is None:
            return None
        cached = self._cores.get(key)
        if cached is not None and cached[0] is raw:
            return cached[1]
        state = records.core_from_bytes(raw)
        self._cores[key] = (raw, state)
        return state

    def load_state(self, get: records.Lookup, command: ledger.Command) -> ledger.AccountState | None:
        """The state to decide ``command`` with: the account's core plus this command's memos."""
        core = self.core_of(get, records.core_key(command.account_id))
        if core is None:
            return None
        return records.decision_state(command.account_id, command.command_id, getattr(command, "job_id", None),
                                      get, core=core)


# The key of a message that carries no command and only makes the ledger agent look for commands Faust dropped
# before it (streams/ledger_agent.py, nudge_dropped_tails). Holds the separator, so no account has it.
NUDGE_KEY = b"\x1fnudge"


def unhandled_tail(last_handled: int | None, high: int) -> bool:
    """Whether a requests partition holds messages past the last one the ledger agent decided (``last_handled``,
    its table's record) although Faust has settled: ones it dropped at the partition's end (``high``: the offset
    the next message will get), which no later message would reveal. With no record nothing can be read back
    (streams/ledger_gaps.py needs a last offset); Faust's commit then holds at the message, and the next start
    delivers it again."""
    return last_handled is not None and last_handled + 1 < high
