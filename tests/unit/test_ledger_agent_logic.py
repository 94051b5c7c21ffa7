"""The ledger agent's translation and reply logic (pure parts; the agent loop is covered by integration tests)."""
from datetime import datetime, timezone

import ledger
from ledger import records
from ledger.snapshot import state_from_dict, state_to_dict
from schemas import events as ev
from streams import ledger_agent

AT = datetime(2026, 3, 5, 12, 0, tzinfo=timezone.utc)


def _open(allowance=100):
    command = ledger.OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=allowance,
                                 reset_at=datetime(2026, 4, 1, tzinfo=timezone.utc))
    return ledger.apply_command(None, command)[1]


def _reserve_request(job_id="j1", amount=30):
    job = {"kind": "tts", "jobId": job_id, "accountId": "a", "text": "x" * amount, "creditsUsed": amount}
    return ev.Event(ev.RESERVE_FOR_JOB, {"commandId": f"reserve:{job_id}", "accountId": "a", "jobId": job_id,
                                         "amount": amount, "job": job})


def test_reserve_request_becomes_reserve_command_with_ttl():
    command = ledger_agent.to_command(_reserve_request())
    assert isinstance(command, ledger.Reserve)
    assert command.amount == 30 and command.job_id == "j1" and command.command_id == "reserve:j1"
    assert command.expires_at - command.at == ledger_agent.RESERVATION_TTL


def test_accepted_and_refused_replies_carry_the_numbers_the_front_door_needs():
    state = _open(allowance=50)
    events, state = ledger.apply_command(state, ledger_agent.to_command(_reserve_request("j1", 30)))
    reply = ledger_agent.reservation_reply(state, _reserve_request("j1", 30))
    assert reply.name == ev.JOB_ACCEPTED and reply.payload["jobId"] == "j1"

    events, state = ledger.apply_command(state, ledger_agent.to_command(_reserve_request("j2", 30)))
    reply = ledger_agent.reservation_reply(state, _reserve_request("j2", 30))
    assert reply.name == ev.JOB_REJECTED
    assert (reply.payload["credits"], reply.payload["needCredits"]) == (20, 30)


def test_duplicate_reserve_is_answered_again_without_new_events():
    state = _open()
    request = _reserve_request()
    events, state = ledger.apply_command(state, ledger_agent.to_command(request))
    assert events
    again, same = ledger.apply_command(state, ledger_agent.to_command(request))
    assert again == [] and same == state
    assert ledger_agent.reservation_reply(state, request).name == ev.JOB_ACCEPTED


def test_reserve_on_unknown_account_is_rejected_with_zero_credits():
    reply = ledger_agent.reservation_reply(None, _reserve_request(amount=12))
    assert reply.name == ev.JOB_REJECTED and reply.payload["credits"] == 0 and reply.payload["needCredits"] == 12


def test_ledger_envelopes_carry_the_balance_after_each_event():
    state = _open(allowance=100)
    command = ledger_agent.to_command(_reserve_request("j1", 40))
    events = ledger.decide(state, command)
    envelopes = ledger_agent.ledger_envelopes(state, events)
    last = envelopes[-1].payload["balanceAfter"]
    assert last["credits"] == 60 and last["reserved"] == 40 and last["sequence"] == events[-1].sequence
    assert envelopes[-1].id == events[-1].event_id
    assert ledger.event_from_dict(envelopes[-1].payload["ledgerEvent"]) == events[-1]


def test_snapshot_round_trips_exactly():
    state = _open()
    for job, amount in (("j1", 10), ("j2", 20), ("j3", 500)):
        _, state = ledger.apply_command(state, ledger_agent.to_command(_reserve_request(job, amount)))
    _, state = ledger.apply_command(state, ledger.Capture(command_id="c1", account_id="a", at=AT, job_id="j1",
                                                          amount=5))
    assert state_from_dict(state_to_dict(state)) == state


def test_the_agent_decides_from_the_core_and_the_command_s_memos():
    table: dict[bytes, bytes] = {}
    state = None
    for command in (ledger.OpenAccount(command_id="open:a", account_id="a", at=AT, monthly_allowance=100,
                                       reset_at=datetime(2026, 4, 1, tzinfo=timezone.utc)),
                    ledger_agent.to_command(_reserve_request("j1", 30))):
        state = ledger_agent.load_state(table, command)
        events, after = ledger.apply_command(state, command)
        for key, value in records.records_after(after, events):
            table[key] = value
    request = _reserve_request("j1", 30)
    again = ledger_agent.load_state(table, ledger_agent.to_command(request))
    assert ledger.decide(again, ledger_agent.to_command(request)) == []
    assert ledger_agent.reservation_reply(again, request).name == ev.JOB_ACCEPTED
    assert ledger_agent.core_of(table, b"a") is ledger_agent.core_of(table, b"a")  # parsed once per value
