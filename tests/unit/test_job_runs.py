"""One run per job whoever delivers it (Faust or the catch-up), and when the catch-up starts (streams/job_runs.py)."""
from __future__ import annotations

import asyncio

from streams.job_runs import CatchUpClock, JobRuns, unread_range


def test_a_job_delivered_twice_at_once_runs_once_and_the_second_delivery_waits_for_it():
    runs = JobRuns()
    log: list[str] = []

    async def deliver(name: str, hold: asyncio.Event | None) -> None:
        async with runs.claim("job-1") as mine:
            log.append(f"{name} {'runs' if mine else 'skips'}")
            if mine and hold is not None:
                await hold.wait()
                log.append(f"{name} done")

    async def scenario() -> None:
        hold = asyncio.Event()
        first = asyncio.create_task(deliver("faust", hold))
        await asyncio.sleep(0)  # the first delivery is running
        second = asyncio.create_task(deliver("catch-up", None))
        await asyncio.sleep(0.01)
        assert log == ["faust runs"], "the second delivery must wait while the job runs"
        hold.set()
        await asyncio.gather(first, second)

    asyncio.run(scenario())
    assert log == ["faust runs", "faust done", "catch-up skips"]
    assert runs.finished_here("job-1")


def test_a_failed_run_still_counts_as_run_and_other_jobs_are_independent():
    runs = JobRuns()

    async def scenario() -> list[bool]:
        try:
            async with runs.claim("a"):
                raise RuntimeError("Triton away")
        except RuntimeError:
            pass
        seen = []
        for job in ("a", "b"):
            async with runs.claim(job) as mine:
                seen.append(mine)
        return seen

    assert asyncio.run(scenario()) == [False, True]


def test_only_the_most_recent_finished_jobs_are_remembered():
    runs = JobRuns(remember=2)

    async def scenario() -> None:
        for job in ("a", "b", "c"):
            async with runs.claim(job):
                pass

    asyncio.run(scenario())
    assert [runs.finished_here(j) for j in ("a", "b", "c")] == [False, True, True]


def test_the_catch_up_starts_once_per_generation_after_faust_stayed_settled_for_the_grace_period():
    clock = CatchUpClock(grace_s=3.0)
    assert not clock.due(1, settled=False, now=0.0)  # recovering
    assert not clock.due(1, settled=True, now=1.0)   # settled from now on
    assert not clock.due(1, settled=True, now=3.9)
    assert clock.due(1, settled=True, now=4.0)
    assert not clock.due(1, settled=True, now=10.0)  # once
    assert not clock.due(2, settled=True, now=11.0)  # a rebalance: a new generation waits its own grace
    assert not clock.due(2, settled=False, now=13.0)  # unsettled again: the grace restarts
    assert not clock.due(2, settled=True, now=14.0)
    assert clock.due(2, settled=True, now=17.0)


def test_the_unread_range_starts_at_the_commit_or_at_the_first_offset_with_none():
    assert unread_range(committed=5, low=0, high=9) == range(5, 9)
    assert unread_range(committed=None, low=2, high=9) == range(2, 9)  # a new group reads from the earliest
    assert unread_range(committed=-1001, low=2, high=9) == range(2, 9)
    assert unread_range(committed=1, low=2, high=9) == range(2, 9)     # deleted by retention
    assert not unread_range(committed=9, low=0, high=9)                # all read
