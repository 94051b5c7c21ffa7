"""The reservation workload on the Python `eventsourcing` library, next to this ledger's own domain, in process.

    python -m bench.ledger_eventsourcing [--requests 5000] [--accounts 4]

Needs the bench extra: `pip install -e '.[bench]'` (eventsourcing 9.5.6). Same workload for every row
(bench/ledger_workload.py): --requests jobs of 1 credit round-robin over the accounts, each reserved against the
account's balance and captured 50 jobs later; every tenth reservation is redelivered, which must change nothing.
Rows:

- voiceforge domain: decide/evolve with the ledger agent's records in a dict (what one worker does per command,
  minus Kafka);
- eventsourcing POPO: an Aggregate with @event methods, Application + repository, in-memory recorder;
- eventsourcing SQLite: the same on a SQLite file (one transaction per saved command, like a durable store).

eventsourcing's aggregate cache is on (AGGREGATE_CACHE_MAXSIZE), as the ledger agent keeps its states in a table;
without it every repository.get() replays the account's whole history.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import datetime, timedelta, timezone
from uuid import UUID

import ledger
from bench import ledger_workload as workload
from bench.stats import summary
from ledger import records

try:
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event
except ImportError as exc:  # pragma: no cover - the bench extra is optional
    raise SystemExit("eventsourcing is not installed: pip install -e '.[bench]'") from exc


class CreditAccount(Aggregate):
    @event("Opened")
    def __init__(self, allowance: int) -> None:
        self.available = allowance
        self.jobs: dict[str, int] = {}

    def reserve(self, job_id: str, amount: int) -> None:
        if job_id in self.jobs:
            return  # a redelivered request: already decided
        if amount > self.available:
            self._refused(job_id, self.available, amount)
        else:
            self._reserved(job_id, amount)

    def capture(self, job_id: str) -> None:
        if self.jobs.get(job_id, 0) > 0:  # reserved and not ended: spend it, once
            self._captured(job_id)

    @event("Captured")
    def _captured(self, job_id: str) -> None:
        self.jobs[job_id] = -self.jobs[job_id]

    @event("Reserved")
    def _reserved(self, job_id: str, amount: int) -> None:
        self.available -= amount
        self.jobs[job_id] = amount

    @event("Refused")
    def _refused(self, job_id: str, available: int, needed: int) -> None:
        self.jobs[job_id] = 0


class Credits(Application):
    def open(self, allowance: int) -> UUID:
        account = CreditAccount(allowance)
        self.save(account)
        return account.id

    def reserve(self, account_id: UUID, job_id: str, amount: int) -> None:
        account = self.repository.get(account_id)
        account.reserve(job_id, amount)
        self.save(account)

    def capture(self, account_id: UUID, job_id: str) -> None:
        account = self.repository.get(account_id)
        account.capture(job_id)
        self.save(account)


def run_eventsourcing(env: dict[str, str], plan, accounts: int) -> tuple[float, list[float]]:
    app = Credits(env={"AGGREGATE_CACHE_MAXSIZE": "10000", **env})
    ids = [app.open(10**12) for _ in range(accounts)]
    timings = []
    started = time.perf_counter()
    for kind, account, job_id in plan:
        t0 = time.perf_counter()
        if kind == "reserve":
            app.reserve(ids[account], job_id, 1)
        else:
            app.capture(ids[account], job_id)
        timings.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    for account_id in ids:  # the same outcome as the ledger: one credit per distinct job
        assert app.repository.get(account_id).available == 10**12 - len(app.repository.get(account_id).jobs)
    return elapsed, timings


def run_voiceforge(plan, accounts: int) -> tuple[float, list[float]]:
    table: dict[bytes, bytes] = {}
    at = datetime.now(timezone.utc)
    for a in range(accounts):
        events, after = ledger.apply_command(None, ledger.OpenAccount(
            command_id=f"open:{a}", account_id=f"acct{a}", at=at, monthly_allowance=10**12,
            reset_at=at + timedelta(days=30)))
        table.update(records.records_after(after, events))
    timings = []
    started = time.perf_counter()
    for kind, account, job_id in plan:
        t0 = time.perf_counter()
        command = workload.command_for(kind, account, job_id, at)
        account_id = command.account_id
        state = records.decision_state(account_id, command.command_id, job_id, table.get)
        events, after = ledger.apply_command(state, command)
        table.update(records.records_after(after, events) if events else ())
        timings.append(time.perf_counter() - t0)
    return time.perf_counter() - started, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=4)
    args = parser.parse_args()
    plan = workload.steps(args.requests, args.accounts)
    rows = [("voiceforge domain + records (dict)", run_voiceforge(plan, args.accounts)),
            ("eventsourcing 9.5 POPO", run_eventsourcing({"PERSISTENCE_MODULE": "eventsourcing.popo"}, plan,
                                                         args.accounts))]
    with tempfile.TemporaryDirectory() as folder:
        rows.append(("eventsourcing 9.5 SQLite (file)", run_eventsourcing(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": os.path.join(folder, "credits.db")},
            plan, args.accounts)))
    print(f"{args.requests} jobs over {args.accounts} accounts = {len(plan)} commands (reserve, capture 50 jobs "
          "later, 10% of reservations redelivered), in process:")
    for name, (elapsed, timings) in rows:
        print(f"  {name:<36} {len(plan) / elapsed:>10,.0f} commands/s   per command {summary(timings)}")


if __name__ == "__main__":
    main()
