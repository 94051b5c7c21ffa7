"""One-shot, kept as the fixture's provenance: recorded a ledger with the code of commit e2c0819, before the typed
events (schemas/messages.py) existed. It imports names that no longer exist, so it runs only on that commit:

    git archive e2c0819 | tar -x -C /tmp/v1 && cp tests/data/record_ledger_v1.py /tmp/v1/tests/data/ \
        && cd /tmp/v1 && PYTHONPATH=. python tests/data/record_ledger_v1.py   # writes /tmp/v1/tests/data/*_v1.*

Run again it gives the same ledger_v1.jsonl and balances byte for byte (ids derive from the commands); requests and
replies get fresh random envelope ids / reply times.

Requests are built exactly as today's producers build them (frontdoor/tts.py, frontdoor/voices.py, frontdoor/admin.py,
streams/orchestrator.py, streams/ledger_timer.py), decoded from bytes, translated by streams.ledger_agent.to_command,
decided by ledger.decide, and wrapped by streams.ledger_agent.ledger_envelopes -- the agent's own path, minus Kafka.
"""
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, ".")
import ledger  # noqa: E402
from ledger import records  # noqa: E402
from ledger.schedule import due_commands  # noqa: E402
from schemas import events as ev  # noqa: E402
from streams import ledger_agent  # noqa: E402

OUT = Path("tests/data")
T0 = datetime(2026, 1, 10, 9, 0, tzinfo=timezone.utc)
requests_out, ledger_out, replies_out = [], [], []
states: dict[str, ledger.AccountState | None] = {}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def admin_command(command):  # frontdoor/admin.py _publish_ledger_command
    return ev.Event(ev.LEDGER_COMMAND, {"accountId": command.account_id, "command": ledger.to_dict(command)},
                    occurred_at=ev.iso_millis(command.at))


def timer_command(command):  # streams/ledger_timer.py publish_due_commands
    return ev.Event(ev.LEDGER_COMMAND, {"accountId": command.account_id, "command": ledger.to_dict(command)},
                    id=command.command_id, occurred_at=ev.iso_millis(command.at))


def tts_reserve(account_id, job_id, text, when):  # frontdoor/tts.py
    price = len(text.encode("utf-8"))
    job = {"kind": "tts", "jobId": job_id, "accountId": account_id, "text": text, "format": "mp3",
           "voice": {"id": "sys_slt", "title": "Sally", "coverImage": None, "type": "SYSTEM"},
           "engineVoice": "slt", "profile": None, "creditsUsed": price, "createdAt": ev.iso_millis(when)}
    return ev.Event(ev.RESERVE_FOR_JOB, {"commandId": f"reserve:{job_id}", "accountId": account_id, "jobId": job_id,
                                         "amount": price, "job": job}, correlation_id=job_id,
                    occurred_at=ev.iso_millis(when))


def clone_reserve(account_id, voice_id, when):  # frontdoor/voices.py
    job = {"kind": ev.JOB_KIND_CLONE, "jobId": voice_id, "accountId": account_id, "voiceId": voice_id,
           "title": "My voice", "description": None, "coverImage": None, "tags": ["calm"], "duration": 12.5,
           "referenceKey": f"voices/{account_id}/{voice_id}.wav", "referenceMimeType": "audio/wav",
           "referenceFormat": "WAV", "referenceBytes": 400044, "creditsUsed": 50, "createdAt": ev.iso_millis(when)}
    return ev.Event(ev.RESERVE_FOR_JOB, {"commandId": f"reserve:{voice_id}", "accountId": account_id,
                                         "jobId": voice_id, "amount": 50, "job": job}, correlation_id=voice_id,
                    occurred_at=ev.iso_millis(when))


def capture(account_id, job_id, amount, when):  # streams/orchestrator.py run_tts / run_clone
    return ev.Event(ev.CAPTURE_FOR_JOB, {"commandId": f"capture:{job_id}", "accountId": account_id, "jobId": job_id,
                                         "amount": amount}, correlation_id=job_id, occurred_at=ev.iso_millis(when))


def release(account_id, job_id, when):  # streams/orchestrator.py _fail
    return ev.Event(ev.RELEASE_FOR_JOB, {"commandId": f"release:{job_id}", "accountId": account_id, "jobId": job_id,
                                         "reason": "failed"}, correlation_id=job_id, occurred_at=ev.iso_millis(when))


def send(request: ev.Event) -> list[ev.Event]:
    raw = request.encode()
    account_id = request.payload["accountId"]
    requests_out.append({"key": account_id, "value": raw.decode("utf-8")})
    decoded = ev.decode(raw)
    command = ledger_agent.to_command(decoded)
    state = states.get(account_id)
    events = ledger.decide(state, command)
    envelopes = ledger_agent.ledger_envelopes(state, events)
    for event in events:
        state = ledger.evolve(state, event)
    states[account_id] = state
    for envelope in envelopes:
        ledger_out.append({"key": account_id, "value": envelope.encode().decode("utf-8")})
    if decoded.name == ev.RESERVE_FOR_JOB:
        reply = ledger_agent.reservation_reply(state, decoded)
        replies_out.append({"key": decoded.payload["jobId"], "value": reply.encode().decode("utf-8")})
    return envelopes


def due(account_id, when):
    state = states[account_id]
    for command in due_commands(records.deadlines(state), when):
        send(timer_command(command))


# Account a: open, grant, a TTS job captured, a clone job released, a refusal, an expiry, a reset with forfeiture.
send(admin_command(ledger.OpenAccount(command_id="open:a", account_id="acc_a", at=at(0), monthly_allowance=100,
                                      reset_at=datetime(2026, 2, 1, tzinfo=timezone.utc))))
send(admin_command(ledger.GrantCredits(command_id="grant:a:1", account_id="acc_a", at=at(1), amount=50,
                                       kind="permanent", reason="purchase")))
send(tts_reserve("acc_a", "cl_tts1", "Hello there, this is thirty!!", at(2)))
send(capture("acc_a", "cl_tts1", len("Hello there, this is thirty!!".encode()), at(2.5)))
send(clone_reserve("acc_a", "cl_voice1", at(3)))
send(release("acc_a", "cl_voice1", at(3.5)))
send(tts_reserve("acc_a", "cl_big", "x" * 4000, at(4)))  # refused
send(tts_reserve("acc_a", "cl_big", "x" * 4000, at(4)))  # redelivered: no event, same reply
send(tts_reserve("acc_a", "cl_tts2", "Forty bytes of text, in UTF-8: naïve ✓ ok", at(5)))
due("acc_a", at(5 + 16))  # the reservation's 15 minute TTL has passed: ExpireReservations
send(tts_reserve("acc_a", "cl_tts3", "y" * 60, at(30)))
send(capture("acc_a", "cl_tts3", 60, at(30.5)))
send(capture("acc_a", "cl_tts3", 60, at(30.6)))  # redelivered capture: nothing
send(tts_reserve("acc_a", "cl_tts4", "z" * 55, at(40)))
due("acc_a", datetime(2026, 2, 1, 0, 5, tzinfo=timezone.utc))  # monthly reset while cl_tts4 is held
send(capture("acc_a", "cl_tts4", 5, datetime(2026, 2, 1, 0, 6, tzinfo=timezone.utc)))  # part forfeited
send(admin_command(ledger.GrantCredits(command_id="grant:a:2", account_id="acc_a",
                                       at=datetime(2026, 2, 2, tzinfo=timezone.utc), amount=5, kind="regular",
                                       reason="promotion")))
# Account b: open, a clone job captured, a TTS job released.
send(admin_command(ledger.OpenAccount(command_id="open:b", account_id="acc_b", at=at(1), monthly_allowance=200,
                                      reset_at=datetime(2026, 2, 1, tzinfo=timezone.utc))))
send(clone_reserve("acc_b", "cl_voice2", at(2)))
send(capture("acc_b", "cl_voice2", 50, at(3)))
send(tts_reserve("acc_b", "cl_tts5", "Guten Tag", at(4)))
send(release("acc_b", "cl_tts5", at(4.2)))

# A worker crash between append and commit re-appends a command's events: identical duplicates on the topic.
ledger_out.insert(5, dict(ledger_out[4]))

balances = {account: {**ledger.to_view(state), "reserved": state.reserved_total, "sequence": state.sequence}
            for account, state in sorted(states.items())}


def write(name, rows):
    with open(OUT / name, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")


write("ledger_v1.jsonl", ledger_out)
write("requests_v1.jsonl", requests_out)
write("replies_v1.jsonl", replies_out)
(OUT / "ledger_v1_balances.json").write_text(json.dumps(balances, indent=2, sort_keys=True) + "\n")
print(len(ledger_out), "ledger records,", len(requests_out), "requests,", len(replies_out), "replies")
print(json.dumps(balances, indent=1))
print(sorted({json.loads(r["value"])["name"] for r in ledger_out}))
