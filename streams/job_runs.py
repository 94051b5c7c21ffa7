"""One run per job in a worker, whoever hands the job over; and when a restarted worker reads its jobs back.

Pure logic, no I/O (streams/catch_up.py wires it). Faust can drop a worker's first jobs-topic messages after a
start or a rebalance (faust-streaming/faust#596), so the worker also reads each of its jobs partitions back from
the committed offset (the catch-up). A job can then reach the orchestrator twice in one process: `JobRuns` makes
the second delivery wait for the first run and skip the job, and remembers recently finished jobs because their
views may not say so yet (the projector is a consumer like any other).
"""
from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass


class JobRuns:
    """Who runs which job in this process. ``async with runs.claim(job_id) as mine``: ``mine`` is False when the
    job ran or runs here already (after waiting for that run to end), True for the one delivery that runs it."""

    def __init__(self, remember: int = 10_000):
        self._running: dict[str, asyncio.Future[None]] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._remember = remember

    def finished_here(self, job_id: str) -> bool:
        return job_id in self._finished

    @asynccontextmanager
    async def claim(self, job_id: str) -> AsyncIterator[bool]:
        while job_id in self._running:  # another delivery runs it: wait, then it is finished here
            await asyncio.shield(self._running[job_id])
        if job_id in self._finished:
            yield False
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._running[job_id] = done
        try:
            yield True
        finally:
            del self._running[job_id]
            self._finished[job_id] = None
            while len(self._finished) > self._remember:
                self._finished.popitem(last=False)
            done.set_result(None)


@dataclass
class CatchUpClock:
    """Decides when the catch-up of a consumer generation starts: once Faust has settled (no rebalance, no table
    recovery, flow resumed) and stayed so for ``grace_s``, so the messages it does deliver are handed over first
    and the catch-up finds them run. Once per generation."""

    grace_s: float = 3.0
    _generation: int | None = None
    _settled_since: float | None = None
    _started: int | None = None

    def due(self, generation: int, settled: bool, now: float) -> bool:
        if generation != self._generation:
            self._generation, self._settled_since = generation, None
        if not settled:
            self._settled_since = None
            return False
        if self._settled_since is None:
            self._settled_since = now
        if self._started == generation or now - self._settled_since < self.grace_s:
            return False
        self._started = generation
        return True


def unread_range(committed: int | None, low: int, high: int) -> range:
    """The offsets of a partition a consumer group has not committed past: from its committed offset (or the
    partition's first, with none, as ``auto_offset_reset=earliest`` reads) to the end as of now."""
    start = low if committed is None or committed < 0 else max(committed, low)
    return range(start, max(start, high))
