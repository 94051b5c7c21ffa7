"""streams/commit_head.py: Faust's commit position never passes an unacked message at a partition's head."""
from __future__ import annotations

from collections import defaultdict

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


class Message:
    def __init__(self, offset: int):
        self.tp, self.offset = TP, offset


def test_with_nothing_committed_yet_a_message_still_being_handled_holds_the_commit_back():
    running = Message(0)  # a job's JobAccepted at offset 0 of a new topic, its JobStarted (1) already acked
    state = ConsumerState(None, [1])
    state._unacked_messages = {running}
    assert commit_head._new_offset(state, TP) is None
    state._unacked_messages = set()  # the job ended and its message was acked
    state._acked[TP] = [0, 1]
    state._acked_index[TP] = {0, 1}
    assert commit_head._new_offset(state, TP) == 2
