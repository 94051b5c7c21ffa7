"""The reservation workload every ledger benchmark runs, so their figures compare.

Per job: a ReserveCreditsForJob of 1 credit, round-robin over the accounts, and its capture once `in_flight` later
jobs have been reserved (so about `in_flight` reservations are open at any time, as with jobs running). Every
`redeliver_every`-th reservation is followed by a redelivery of an earlier one (same command and job id), which
must decide nothing.
"""
from __future__ import annotations


def steps(jobs: int, accounts: int, in_flight: int = 50, redeliver_every: int = 10) -> list[tuple[str, int, str]]:
    """("reserve" | "capture", account index, job id) in publication order."""
    plan: list[tuple[str, int, str]] = []
    for n in range(jobs):
        plan.append(("reserve", n % accounts, f"job-{n}"))
        if redeliver_every and n % redeliver_every == redeliver_every - 1:
            plan.append(("reserve", (n - 5) % accounts, f"job-{n - 5}"))
        if n >= in_flight:
            plan.append(("capture", (n - in_flight) % accounts, f"job-{n - in_flight}"))
    return plan


def command_for(kind: str, account: int, job_id: str, at):
    """The ledger command of one workload step: a 1-credit Reserve or its Capture."""
    from datetime import timedelta

    import ledger

    account_id = f"acct{account}"
    if kind == "reserve":
        return ledger.Reserve(command_id=f"reserve:{job_id}", account_id=account_id, at=at, job_id=job_id,
                              amount=1, expires_at=at + timedelta(minutes=15))
    return ledger.Capture(command_id=f"capture:{job_id}", account_id=account_id, at=at, job_id=job_id, amount=1)
