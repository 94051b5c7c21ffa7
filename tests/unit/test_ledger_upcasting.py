"""The ledger topic is kept for ever: records written in the shapes of before the typed events still decode, replay
to the same balances, and are written again byte for byte the same by today's code.

tests/data/ledger_v1.jsonl was recorded with the code of commit e2c0819 (before schemas/messages.py existed) by
tests/data/record_ledger_v1.py, which drives the ledger agent's own translation, decision and envelope code with
requests built as that code's producers built them; ledger_v1_balances.json is the balance that code folded.
It holds every ledger event type, and one record appended twice, as a worker crash before the commit leaves it.
"""
import json
from pathlib import Path

import pytest

import ledger
from schemas import events as ev
from schemas import messages

DATA = Path(__file__).resolve().parents[1] / "data"


def _rows(name):
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line]


RECORDED = _rows("ledger_v1.jsonl")
BALANCES = json.loads((DATA / "ledger_v1_balances.json").read_text())


def test_the_recording_covers_every_ledger_event_type_and_a_duplicate():
    names = [json.loads(row["value"])["name"] for row in RECORDED]
    assert set(names) == {t.WIRE_NAME for t in ledger.EVENT_TYPES}
    assert len({row["value"] for row in RECORDED}) < len(RECORDED)


@pytest.mark.parametrize("row", RECORDED, ids=lambda row: json.loads(row["value"])["name"])
def test_every_recorded_record_decodes_to_its_typed_message(row):
    envelope, record = messages.read(row["value"].encode())
    assert isinstance(record, messages.LedgerRecord)
    assert type(record).WIRE_NAME == envelope.name == record.ledger_event.WIRE_NAME
    assert record.account_id == row["key"] == record.key()
    # Written again by today's code: the very same envelope (id, time, correlation, payload).
    assert record.envelope() == envelope


def test_the_recorded_ledger_replays_to_the_recorded_balances():
    records = [messages.read_as(row["value"], messages.LedgerRecord)[1] for row in RECORDED]
    states = ledger.replay(record.ledger_event for record in records)
    replayed = {account: {**ledger.to_view(state), "reserved": state.reserved_total, "sequence": state.sequence}
                for account, state in states.items()}
    assert replayed == BALANCES
    # And every record's balanceAfter is the fold up to it (duplicates skipped by sequence).
    seen: dict[str, ledger.AccountState | None] = {}
    for record in records:
        state = seen.get(record.account_id)
        if state is not None and record.ledger_event.sequence <= state.sequence:
            continue
        state = seen[record.account_id] = ledger.evolve(state, record.ledger_event)
        view = ledger.to_view(state)
        assert record.balance_after == messages.BalanceAfter(
            credits=view["credits"], regular=view["breakdown"]["regular"], permanent=view["breakdown"]["permanent"],
            reset_at=view["breakdown"]["resetAt"], reserved=state.reserved_total, sequence=state.sequence)


def test_an_unknown_version_is_refused_and_an_upcaster_lifts_an_old_one():
    envelope = ev.decode(RECORDED[0]["value"])
    old = ev.Event(envelope.name, envelope.payload, version=0, id=envelope.id, occurred_at=envelope.occurred_at)
    with pytest.raises(messages.MessageDecodeError):
        messages.decode(old)
    # A version-0 shape that called the balance "balance": lifted to version 1 before it is read.
    renamed = {k: v for k, v in envelope.payload.items() if k != "balanceAfter"}
    renamed["balance"] = envelope.payload["balanceAfter"]
    upcasters = {(envelope.name, 0): lambda p: {**{k: v for k, v in p.items() if k != "balance"},
                                                 "balanceAfter": p["balance"]}}
    lifted = messages.decode(ev.Event(envelope.name, renamed, version=0), upcasters=upcasters)
    assert lifted == messages.decode(envelope)


def test_a_record_whose_name_does_not_match_its_event_is_refused():
    envelope = ev.decode(RECORDED[0]["value"])  # AccountOpened
    with pytest.raises(messages.MessageDecodeError):
        messages.decode(ev.Event("CreditsGranted", envelope.payload))
