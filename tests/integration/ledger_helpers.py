"""Helpers shared by the ledger's integration tests (this module holds no tests itself)."""
from __future__ import annotations

from datetime import datetime, timezone

import requests

import ledger
from adapters import kafka, mongo
from schemas import events as ev
from schemas import messages
from service_config import load

from .conftest import wait_for


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def now() -> datetime:
    return datetime.now(timezone.utc)


def new_account(base_url: str, credits: int, **kwargs):
    """A fresh account with its own key, once the ledger has opened it (its credits show)."""
    from frontdoor import admin

    issued = admin.create_account_with_key(name="ledger-test", credits=credits, **kwargs)
    wait_for(lambda: requests.get(f"{base_url}/api/v1/credits", headers=auth(issued.api_key), timeout=5)
             .json()["credits"] == credits, 60, "the new account's credits to show")
    return issued


def credit_view(account_id: str) -> dict | None:
    return mongo.find_credit_view(mongo.connect(load()), account_id)


def ledger_command_event(command: ledger.Command) -> ev.Event:
    return messages.LedgerCommand.of(command).envelope()


def publish_commands(commands, publisher: kafka.EventPublisher | None = None) -> None:
    own = publisher is None
    publisher = publisher or kafka.EventPublisher(load())
    try:
        for command in commands:
            publisher.publish(ev.TOPIC_REQUESTS, command.account_id, ledger_command_event(command))
    finally:
        if own:
            publisher.close()


def ledger_events(account_id: str) -> list[ledger.Event]:
    """Every event on the ledger topic for the account, duplicates included, in log order."""
    key = account_id.encode()
    return [messages.read_as(value, messages.LedgerRecord)[1].ledger_event
            for _p, _o, k, value in kafka.read_topic(load(), ev.TOPIC_LEDGER) if k == key]


def audit(account_id: str | None = None):
    from frontdoor import admin

    return admin.run_audit(load(), account_id)


def wait_audit_clean(account_id: str | None, timeout_s: float = 30):
    """The audit of the account (or of everything) once the views have caught up with the ledger; fails with
    the last audit's findings."""
    last: list = []

    def clean():
        result = audit(account_id)
        last[:] = result.findings
        return result if result.clean else None

    try:
        return wait_for(clean, timeout_s, f"a clean audit of {account_id or 'every account'}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nfindings:\n" + "\n".join(map(str, last[:20]))) from None


def requests_commit_positions(partitions) -> dict[int, tuple[int, int]]:
    """Per requests partition: (the workers' committed offset, 0 for none; the partition's end)."""
    settings = load()
    topic, group = settings.topic(ev.TOPIC_REQUESTS), f"{settings.kafka_topic_prefix}-workers"
    positions = {}
    for partition in partitions:
        committed, _low, high = kafka.group_position(settings, group, topic, partition)
        positions[partition] = (committed or 0, high)
    return positions


def wait_requests_committed(partitions, timeout_s: float, what: str, log_tail=None) -> None:
    """Wait until the workers have committed every requests partition in `partitions` to its end as of each look:
    nothing decided is left for a restart to read again, and no message Faust skipped holds its commit back."""
    positions: dict[int, tuple[int, int]] = {}

    def committed_to_end() -> bool:
        positions.update(requests_commit_positions(partitions))
        return all(committed >= end for committed, end in positions.values())

    try:
        wait_for(committed_to_end, timeout_s, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n(committed, end) per partition: {positions}\n--- worker log ---\n"
                             f"{log_tail() if log_tail else ''}") from None
