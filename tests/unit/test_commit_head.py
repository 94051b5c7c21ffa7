"""streams/commit_head.py: Faust's commit position never passes an unacked message at a partition's head."""
from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

import pytest
from intervaltree import IntervalTree

from streams import commit_head

TP = ("jobs", 0)


class ConsumerState:
    """The part of Faust's Consumer that _new_offset reads and updates."""

    def __init__(self, committed: int | None, acked: list[int]):
        self._committed_offset = defaultdict(lambda: None, {TP: committed})
        self._acked = defaultdict(list, {TP: list(acked)})
        self._acked_index = defaultdict(set, {TP: set(acked)})
        self._gap = defaultdict(IntervalTree)
        self._unacked_messages: set = set()
        self._read_offset = defaultdict(lambda: None)
        self.app = SimpleNamespace(consumer_generation_id=1)
        self._seeked_generation = 1  # this generation's seek to the committed offsets has ended

    def with_gap(self, first: int, end: int) -> ConsumerState:
        """Faust's fetcher jumped over offsets first..end-1 (Consumer._add_gap)."""
        self._gap[TP].addi(first, end)
        return self

    def ack(self, offset: int) -> None:
        """Faust's Consumer.ack bookkeeping: an offset at or past the committed one is appended unless indexed."""
        committed = self._committed_offset[TP]
        if (committed is None or offset >= committed) and offset not in self._acked_index[TP]:
            self._acked_index[TP].add(offset)
            self._acked[TP].append(offset)


@pytest.mark.parametrize("committed", [0, 10])
def test_a_job_still_running_at_the_head_holds_the_commit_back(committed):
    # Offsets committed+1.. are acked (later jobs finished); the head (a long clone) is not.
    state = ConsumerState(committed, list(range(committed + 1, committed + 9)))
    assert commit_head._new_offset(state, TP) is None
    # Faust's own rule commits past the head: the bug this module fixes.
    assert commit_head._faust_new_offset(ConsumerState(committed, list(range(committed + 1, committed + 9))),
                                         TP) == committed + 9


def test_once_the_head_is_acked_the_whole_run_is_committed():
    state = ConsumerState(10, [10, 11, 12, 13, 15])
    assert commit_head._new_offset(state, TP) == 14  # up to the next unacked message (14)
    assert state._acked[TP] == [15]


def test_before_any_commit_faust_s_rule_applies():
    assert commit_head._new_offset(ConsumerState(None, [3, 4, 5]), TP) == 6
    assert commit_head._new_offset(ConsumerState(10, []), TP) is None


class TopicPartition(tuple):
    """Faust's TP: a named tuple (topic, partition)."""

    topic = property(lambda self: self[0])
    partition = property(lambda self: self[1])


class Message:
    def __init__(self, offset: int, tp=TP):
        self.tp, self.offset = tp, offset


def test_with_nothing_committed_yet_a_message_still_being_handled_holds_the_commit_back():
    running = Message(0)  # a job's JobAccepted at offset 0 of a new topic, its JobStarted (1) already acked
    state = ConsumerState(None, [1])
    state._unacked_messages = {running}
    assert commit_head._new_offset(state, TP) is None
    state._unacked_messages = set()  # the job ended and its message was acked
    state._acked[TP] = [0, 1]
    state._acked_index[TP] = {0, 1}
    assert commit_head._new_offset(state, TP) == 2


def commits_until(state: ConsumerState, new_offset, target: int, limit: int = 200) -> list[int]:
    """Faust's commit loop: each commit moves the committed position to what _new_offset returns."""
    commits = []
    while state._committed_offset[TP] < target and len(commits) < limit:
        offset = new_offset(state, TP)
        if offset is None:
            break
        state._committed_offset[TP] = offset
        commits.append(offset)
    return commits


def restarted_with_a_dropped_range() -> ConsumerState:
    # The CI case: committed 143 at the restart; Faust's fetcher jumped from 143 to 214 (a gap 144-214: the messages
    # it dropped and the one it delivered next); the ledger acked 143-188 so far (handled before, or read back).
    return ConsumerState(143, list(range(143, 189))).with_gap(144, 215)


def test_a_gap_counts_for_nothing_the_commit_waits_for_each_dropped_message_to_be_acked():
    state = restarted_with_a_dropped_range()
    assert commit_head._new_offset(state, TP) == 189  # not past the dropped messages not yet read back
    state._committed_offset[TP] = 189
    assert not state._gap[TP]
    for offset in range(189, 214):  # read back and acked
        state.ack(offset)
    assert commit_head._new_offset(state, TP) == 214  # the delivered message (214) is still being handled
    state._committed_offset[TP] = 214
    state.ack(214)
    assert commit_head._new_offset(state, TP) == 215


def test_faust_s_own_rule_commits_the_gap_unhandled_and_then_crawls():
    # What the module replaces: once a later offset is acked, the gap (dropped messages, and the one delivered
    # next, maybe still being handled) counts as acked ...
    assert commit_head._faust_new_offset(ConsumerState(143, [143, 144, 220]).with_gap(145, 215), TP) == 215
    # ... and where part of it was acked already, each duplicate ends the run: one offset per commit.
    assert len(commits_until(restarted_with_a_dropped_range(), commit_head._faust_new_offset, 215)) > 40


def test_a_gap_does_not_let_the_commit_pass_an_unacked_head():
    state = ConsumerState(143, list(range(150, 160))).with_gap(144, 150)  # 143, the head, is still being handled
    assert commit_head._new_offset(state, TP) is None
    for offset in range(143, 150):
        state.ack(offset)
    assert commit_head._new_offset(state, TP) == 160


def test_a_head_held_past_the_watch_s_time_is_reported_once_with_what_holds_it():
    tp = TopicPartition(TP)
    state = ConsumerState(89, [])
    state._committed_offset = defaultdict(lambda: None, {tp: 89})
    state._acked = defaultdict(list, {tp: [96, 97, 98]})
    state._unacked_messages = {Message(92, tp), Message(5, TopicPartition(("jobs", 1)))}
    state._read_offset[tp] = 120
    watch = commit_head.CommitWatch(after_s=30)
    assert watch.look(state, now=0) == []
    assert watch.look(state, now=29) == []
    [stall] = watch.look(state, now=30)
    assert (stall.committed, stall.head, stall.acked, stall.in_flight, stall.read) == (89, 96, 3, [92], 120)
    assert stall.missing == range(89, 96)
    assert "jobs[0] committed at 89" in stall.describe() and "offsets 89-95 are not acked" in stall.describe()
    assert watch.look(state, now=300) == []  # reported already: once per stall
    state._committed_offset[tp] = 100  # the commit moved, and is held again: a new stall, its own clock
    state._acked[tp] = [102]
    assert watch.look(state, now=301) == []
    assert [s.committed for s in watch.look(state, now=331)] == [100]


def test_a_head_being_handled_is_no_stall_until_nobody_handles_it():
    tp = TopicPartition(TP)
    state = ConsumerState(None, [])
    state._committed_offset = defaultdict(lambda: None, {tp: 40})
    state._acked = defaultdict(list, {tp: [41, 42]})
    state._unacked_messages = {Message(40, tp)}  # a clone job at the head, running for minutes
    watch = commit_head.CommitWatch(after_s=30)
    assert watch.look(state, now=0) == [] and watch.look(state, now=100) == []
    state._unacked_messages = set()  # its message gone, never acked (dropped)
    assert [s.head for s in watch.look(state, now=101)] == [41]


def test_a_head_acked_or_nothing_acked_is_no_stall():
    tp = TopicPartition(TP)
    state = ConsumerState(None, [])
    state._committed_offset = defaultdict(lambda: None, {tp: 10})
    watch = commit_head.CommitWatch(after_s=1)
    for acked in ([10, 11, 13], [], [9]):
        state._acked = defaultdict(list, {tp: acked})
        assert watch.look(state, now=0) == [] and watch.look(state, now=100) == []


def test_nothing_is_committed_in_a_generation_before_its_seek_to_the_committed_offsets_has_ended():
    # The CI case: a restarted worker, flow resumed before the seek; Faust's position unknown, 89-95 handled again
    # and acked. Committed now, they leave the acked list; the seek then puts the position back at 89 (what Kafka
    # held) and Faust drops the refetched messages: nothing ever acks 89 again.
    state = ConsumerState(None, list(range(89, 96)))
    state.app.consumer_generation_id = 3
    assert commit_head._new_offset(state, TP) is None
    assert state._acked[TP] == list(range(89, 96))  # kept for the first commit after the seek
    state._seeked_generation, state._committed_offset[TP] = 3, 89  # the seek ended: Kafka's 89
    assert commit_head._new_offset(state, TP) == 96
    # A rebalance starts generation 4: no commit until its own seek.
    state.app.consumer_generation_id = 4
    state.ack(96)
    assert commit_head._new_offset(state, TP) is None


def test_the_seek_marks_the_generation_it_began_in(monkeypatch):
    seen = []

    async def faust_seek(consumer):
        seen.append(consumer.app.consumer_generation_id)
        consumer.app.consumer_generation_id = 8  # a rebalance while the seek ran: that generation seeks again

    monkeypatch.setattr(commit_head, "_faust_perform_seek", faust_seek)
    state = ConsumerState(10, [10])
    state.app.consumer_generation_id, state._seeked_generation = 7, 6
    asyncio.run(commit_head._perform_seek(state))
    assert seen == [7] and state._seeked_generation == 7
    assert commit_head._new_offset(state, TP) is None  # generation 8 has not sought yet


def test_a_seek_that_never_ends_is_reported_once_per_generation():
    state = ConsumerState(None, [5, 6])
    state.app.consumer_generation_id = 2  # generation 2's seek has not ended (Faust timed it out and went on)
    watch = commit_head.CommitWatch(after_s=30)
    assert watch.seek_overdue(state, now=0) is None and watch.seek_overdue(state, now=29) is None
    assert watch.seek_overdue(state, now=30) == 2
    assert watch.seek_overdue(state, now=500) is None  # once
    state.app.consumer_generation_id = 3
    assert watch.seek_overdue(state, now=501) is None and watch.seek_overdue(state, now=531) == 3
    state._seeked_generation = 3
    assert watch.seek_overdue(state, now=600) is None


def test_a_seek_not_ended_with_nothing_acked_yet_is_not_reported():
    state = ConsumerState(None, [])
    state.app.consumer_generation_id = 2
    watch = commit_head.CommitWatch(after_s=1)
    assert watch.seek_overdue(state, now=0) is None and watch.seek_overdue(state, now=100) is None
