"""The ledger agent's translation and reply logic (streams/ledger_logic.py: no Faust, Kafka or MongoDB needed; the
agent loop is covered by integration tests)."""
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import ledger
from ledger import records
from ledger.snapshot import state_from_dict, state_to_dict
from schemas import messages as msg
from streams import ledger_logic

TTL = timedelta(minutes=15)
DATA = Path(__file__).resolve().parents[1] / "data"

AT = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)


def _open(allowance=100):
    command = ledger.OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=allowance,
                                 reset_at=datetime(2026, 4, 1, tzinfo=timezone.utc))
    return ledger.apply_command(None, command)[1]


def _reserve_request(job_id="j1", amount=30):
    job = msg.TtsJob(job_id=job_id, account_id="a", text="x" * amount, format="mp3",
                     voice=msg.VoiceSummary(id="sys_slt", title="Sally", cover_image=None, type="SYSTEM"),
                     engine_voice="slt", profile=None, credits_used=amount, created_at="2026-03-05T12:00:00.000Z")
    return msg.ReserveCreditsForJob.for_job(job)


def to_command(request):
    return ledger_logic.to_command(request, AT, TTL)


def test_reserve_request_becomes_reserve_command_with_ttl():
    command = to_command(_reserve_request())
    assert isinstance(command, ledger.Reserve)
    assert command.amount == 30 and command.job_id == "j1" and command.command_id == "reserve:j1"
    assert command.expires_at - command.at == TTL


def test_accepted_and_refused_replies_carry_the_numbers_the_front_door_needs():
    state = _open(allowance=50)
    events, state = ledger.apply_command(state, to_command(_reserve_request("j1", 30)))
    reply = ledger_logic.reservation_reply(state, _reserve_request("j1", 30))
    assert isinstance(reply, msg.JobAccepted) and reply.job_id == "j1"

    events, state = ledger.apply_command(state, to_command(_reserve_request("j2", 30)))
    reply = ledger_logic.reservation_reply(state, _reserve_request("j2", 30))
    assert isinstance(reply, msg.JobRejected)
    assert (reply.credits, reply.need_credits) == (20, 30)


def test_duplicate_reserve_is_answered_again_without_new_events():
    state = _open()
    request = _reserve_request()
    events, state = ledger.apply_command(state, to_command(request))
    assert events
    again, same = ledger.apply_command(state, to_command(request))
    assert again == [] and same == state
    assert isinstance(ledger_logic.reservation_reply(state, request), msg.JobAccepted)


def test_reserve_on_unknown_account_is_rejected_with_zero_credits():
    reply = ledger_logic.reservation_reply(None, _reserve_request(amount=12))
    assert isinstance(reply, msg.JobRejected) and reply.credits == 0 and reply.need_credits == 12


def test_ledger_envelopes_carry_the_balance_after_each_event():
    state = _open(allowance=100)
    command = to_command(_reserve_request("j1", 40))
    events = ledger.decide(state, command)
    envelopes = [record.envelope() for record in ledger_logic.ledger_records(state, events)]
    last = envelopes[-1].payload["balanceAfter"]
    assert last["credits"] == 60 and last["reserved"] == 40 and last["sequence"] == events[-1].sequence
    assert envelopes[-1].id == events[-1].event_id
    assert ledger.event_from_dict(envelopes[-1].payload["ledgerEvent"]) == events[-1]


def test_snapshot_round_trips_exactly():
    state = _open()
    for job, amount in (("j1", 10), ("j2", 20), ("j3", 500)):
        _, state = ledger.apply_command(state, to_command(_reserve_request(job, amount)))
    _, state = ledger.apply_command(state, ledger.Capture(command_id="c1", account_id="a", at=AT, job_id="j1",
                                                          amount=5))
    assert state_from_dict(state_to_dict(state)) == state


def test_the_agent_decides_from_the_core_and_the_command_s_memos():
    table: dict[bytes, bytes] = {}
    cores = ledger_logic.CoreCache()
    state = None
    for command in (ledger.OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=100,
                                       reset_at=datetime(2026, 4, 1, tzinfo=timezone.utc)),
                    to_command(_reserve_request("j1", 30))):
        state = cores.load_state(table.get, command)
        events, after = ledger.apply_command(state, command)
        for key, value in records.records_after(after, events):
            table[key] = value
    request = _reserve_request("j1", 30)
    again = cores.load_state(table.get, to_command(request))
    assert ledger.decide(again, to_command(request)) == []
    assert isinstance(ledger_logic.reservation_reply(again, request), msg.JobAccepted)
    assert cores.core_of(table.get, b"a") is cores.core_of(table.get, b"a")  # parsed once per value


# --- requests recorded with the code of before the typed events (tests/data/record_ledger_v1.py) ----------------------

def _rows(name):
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line]


def test_recorded_requests_are_decided_into_the_recorded_ledger_and_replies():
    """Requests in the shapes producers wrote before (in flight during an upgrade) decode, translate to the same
    commands and give byte-identical ledger records and the same replies."""
    ttl = timedelta(seconds=900)  # the recording's RESERVATION_TTL_S
    states: dict = {}
    produced, replies = [], []
    for row in _rows("requests_v1.jsonl"):
        envelope, request = msg.read(row["value"])
        assert request.key() == row["key"]
        command = ledger_logic.request_command(envelope, request, ttl)
        state = states.get(command.account_id)
        events = ledger.decide(state, command)
        produced += [{"key": r.key(), "value": r.envelope().encode().decode()}
                     for r in ledger_logic.ledger_records(state, events)]
        for event in events:
            state = ledger.evolve(state, event)
        states[command.account_id] = state
        if isinstance(request, msg.ReserveCreditsForJob):
            reply = ledger_logic.reservation_reply(state, request)
            replies.append({"key": reply.key(), "id": ledger_logic.reply_envelope(reply).id,
                            "payload": reply.to_payload()})
    recorded = _rows("ledger_v1.jsonl")
    recorded.pop(5)  # the duplicate a crash appended (see the recorder); deciding gives each record once
    assert produced == recorded
    assert replies == [{"key": r["key"], "id": (e := json.loads(r["value"]))["id"], "payload": e["payload"]}
                       for r in _rows("replies_v1.jsonl")]


def test_a_partition_with_messages_past_the_last_command_decided_is_nudged():
    from streams.ledger_logic import NUDGE_KEY, unhandled_tail

    assert unhandled_tail(last_handled=41, high=43)          # offset 42 was never decided: Faust dropped it
    assert not unhandled_tail(last_handled=42, high=43)      # everything up to the end decided
    assert not unhandled_tail(last_handled=50, high=43)      # a record ahead of a truncated log: nothing to read
    assert not unhandled_tail(last_handled=None, high=43)    # nothing recorded: nothing the gap check could read
    assert NUDGE_KEY.startswith(b"\x1f")                     # account keys never hold the separator
