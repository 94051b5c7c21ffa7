"""A fix to Faust's commit rule: never commit past an unacked message at the head of a partition.

Faust (faust-streaming 0.15) commits the first run of consecutive acked offsets, and checks that the run starts at
the committed position with ``min(acked) - committed > 1``. Its committed position is Kafka's (the next offset to
read), so a run that starts one past it passes the check: when exactly the message at the head is still being
handled (a clone job running for a minute while later jobs of the partition finish), Faust commits past it, and a
worker killed at that moment loses the job (found by bench/soak.py: two jobs running at a worker kill were never
run again and ended only at their reservation's expiry). A committed position of 0 (a new topic) skipped the check,
and with nothing committed yet (a new consumer group) there is no check at all.

Here the run must start exactly at the committed position, or, with none yet, after every message still unacked.
Our topics have no offset gaps (no transactions, no compaction), so a stricter rule only ever holds a commit back;
handlers are idempotent, so a held-back commit costs at most some redelivered messages after a restart.

Faust also counts as acked the offsets its fetcher jumped over (its "gaps", meant for compacted and transactional
topics), and a gap includes the message delivered after it. Here a gap is only ever the messages Faust dropped
around a restart (faust-streaming/faust#596) and the one it delivered next: counted as acked, they were committed
before anyone handled them, so a worker killed then could lose them for good (a job, were the commit past it
before the jobs catch-up read from there; a webhook attempt), and the message delivered next was committed before
it was handled. Faust's merge also appended offsets acked already a second time, and a duplicate ends the run it
commits: the commit crawled through them one offset per commit (a CI failure: 46 of 71 offsets in 50 s). In
tests/integration/test_ledger_crash.py Faust registered such gaps on the requests, ledger or jobs topic in 5 of 6
restarts. So gaps count for nothing here: dropped messages are committed once acked — read back by
streams/ledger_gaps.py, run by the catch-up of streams/catch_up.py — or else are delivered again after the next
restart.

Nor is anything committed in a consumer generation before Faust's seek to the committed offsets has ended. Faust
resumes the flow and starts the fetcher before that seek (tables/recovery.py), so messages are handled and acked,
and could be committed, while its committed position is still unknown (None); the seek then reads the group's
committed offset, possibly older than the commit just made or lost, overwrites the position with it and Faust
drops the messages it refetches. A commit in that window took the acked head out of the acked list, the position
went back behind it, and the commit stayed there for good: nothing would ack that head again (a CI failure of
tests/integration/test_ledger_crash.py; with the seek delayed 2 s to widen the window, 3 of 16 runs stuck without
this gate, 0 of 18 with it). The acks wait for the first commit after the seek instead.

`CommitWatch` reports a commit held back by a head nobody is handling, should another way to strand one appear,
and a generation whose seek never ended (Faust gives it `broker_request_timeout`, then goes on without it, and
this gate then commits nothing until the next generation).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from faust.transport.consumer import Consumer

log = logging.getLogger(__name__)

_faust_new_offset = Consumer._new_offset
_faust_perform_seek = Consumer.perform_seek


def _seek_ended(consumer: Any) -> bool:
    """Whether the current consumer generation's seek to the committed offsets has ended (see _perform_seek)."""
    return getattr(consumer, "_seeked_generation", None) == consumer.app.consumer_generation_id


def _new_offset(self: Any, tp: Any) -> int | None:
    if not _seek_ended(self):
        return None  # the position is not known yet: see _perform_seek
    acked = self._acked[tp]
    if self._gap[tp]:
        _forget_gaps(self, tp)
    if acked:
        first = min(acked)
        committed = self._committed_offset[tp]
        if committed is not None and first > committed:
            return None  # the message at the committed position is not acked yet: commit nothing past it
        # Nothing committed yet (a new topic or consumer group): the head is unknown, but a message handed to the
        # agents and not acked before the run must not be passed either.
        if committed is None and any(m.tp == tp and m.offset < first for m in list(self._unacked_messages)):
            return None
    return _faust_new_offset(self, tp)


def _forget_gaps(self: Any, tp: Any) -> None:
    gap = self._gap.pop(tp)
    log.info("Faust's fetcher jumped over offsets %s of %s; not counted as acked: they are committed once handled",
             ", ".join(f"{interval.begin}-{interval.end - 1}" for interval in sorted(gap)), tp)


async def _perform_seek(self: Any) -> None:
    generation = self.app.consumer_generation_id
    await _faust_perform_seek(self)
    self._seeked_generation = generation


def install() -> None:
    """Patch Faust's consumer (idempotent); streams/app.py calls it before the app starts."""
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
    Consumer.perform_seek = _perform_seek  # type: ignore[method-assign]


@dataclass(frozen=True)
class StalledCommit:
    """A partition whose commit has not moved for a while although later offsets are acked: what Faust holds."""

    tp: Any
    committed: int
    head: int              # the first acked offset
    acked: int             # how many offsets are acked
    in_flight: list[int]   # offsets being handled here
    read: int | None       # the last offset fetched

    @property
    def missing(self) -> range:
        """The offsets neither acked nor committed that hold the commit back."""
        return range(self.committed, self.head)

    def describe(self) -> str:
        flight = ", ".join(map(str, self.in_flight[:5])) or "none"
        return (f"{self.tp.topic}[{self.tp.partition}] committed at {self.committed}, {self.acked} offset(s) acked "
                f"from {self.head}; offsets {self.missing[0]}-{self.missing[-1]} are not acked (being handled here: "
                f"{flight}; fetched up to {self.read})")


class CommitWatch:
    """Notices partitions whose commit has been held back for `after_s` seconds by an unacked head nobody handles.

    A head held by a message still being handled (a long clone) is normal and not reported. One that nobody handles
    (dropped by Faust and never read back) holds the commit until the next restart, which then redelivers everything
    past it. Reported once per stall, with the offsets, so an operator can see it."""

    def __init__(self, after_s: float = 30.0):
        self.after_s = after_s
        self._since: dict[Any, tuple[int, float]] = {}
        self._unseeked: tuple[int, float] | None = None  # (generation, since) while its seek has not ended

    def seek_overdue(self, consumer: Any, now: float) -> int | None:
        """The consumer generation, once, when acked offsets have waited `after_s` for its seek to end: Faust gives
        the seek `broker_request_timeout` and goes on without it, and then this module commits nothing in that
        generation (see `_new_offset`)."""
        generation = consumer.app.consumer_generation_id
        if _seek_ended(consumer) or not any(consumer._acked.values()):
            self._unseeked = None
            return None
        if self._unseeked is None or self._unseeked[0] != generation:
            self._unseeked = (generation, now)
        elif now - self._unseeked[1] >= self.after_s:
            self._unseeked = (generation, float("inf"))  # reported: not again in this generation
            return generation
        return None

    def look(self, consumer: Any, now: float) -> list[StalledCommit]:
        stalled = []
        for tp, acked in list(consumer._acked.items()):
            committed = consumer._committed_offset.get(tp)
            if not acked or committed is None or min(acked) <= committed:
                self._since.pop(tp, None)
                continue
            since = self._since.get(tp)
            if since is None or since[0] != committed:
                self._since[tp] = (committed, now)
                continue
            if now - since[1] >= self.after_s:
                in_flight = sorted(m.offset for m in list(consumer._unacked_messages) if m.tp == tp)
                if committed in in_flight:
                    continue  # the head is being handled (a long clone): a commit held back as it should be
                self._since[tp] = (committed, float("inf"))  # reported: not again until the commit moves
                stalled.append(StalledCommit(tp, committed, min(acked), len(acked), in_flight,
                                             consumer._read_offset.get(tp)))
        return stalled

