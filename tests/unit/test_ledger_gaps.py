"""Messages Faust drops around a restart are read back and handled, in order, before the message that revealed them."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

from streams import ledger_gaps


def _event(offset: int, partition: int = 2, generation: int = 1):
    return SimpleNamespace(key=b"k", value=f"v{offset}".encode(),
                           message=SimpleNamespace(topic="t.requests", partition=partition, offset=offset,
                                                   generation_id=generation))


def _run(events, progress_start=None, monkeypatch=None, committed: int | None | list[int] = -1):
    """`committed`: the group's committed offset Kafka reports (-1: the first event's, as when Faust skipped none
    at its start; a list: one per question, in order)."""
    stored: dict[int, int] = {} if progress_start is None else {2: progress_start}
    progress = ledger_gaps.Progress(stored.get, stored.__setitem__)
    handled, read_back, acked = [], [], []
    answers = iter(committed if isinstance(committed, list)
                   else [events[0].message.offset if committed == -1 else committed] * len(events))

    def read_range(_settings, topic, partition, start, end):
        read_back.append((topic, partition, start, end))
        return [(o, b"k", f"v{o}".encode()) for o in range(start, end)]

    async def handle(_key, value):
        handled.append(int(value[1:]))

    monkeypatch.setattr(ledger_gaps.kafka, "read_range", read_range)
    monkeypatch.setattr(ledger_gaps.kafka, "group_position", lambda _s, _g, _t, _p: (next(answers), 0, 1000))
    monkeypatch.setattr(ledger_gaps, "ack_handled", lambda topic, partition, offset: acked.append(offset))

    async def main():
        for event in events:
            await ledger_gaps.handle_with_gaps(event, progress, handle, what="test")

    asyncio.run(main())
    return handled, read_back, acked, stored


def test_contiguous_messages_are_handled_as_they_come(monkeypatch):
    handled, read_back, acked, stored = _run([_event(o) for o in range(5)], monkeypatch=monkeypatch)
    assert handled == [0, 1, 2, 3, 4] and read_back == [] and acked == [] and stored == {2: 4}


def test_dropped_messages_are_read_back_in_order_and_acked(monkeypatch):
    handled, read_back, acked, stored = _run([_event(o) for o in (10, 11, 15, 16)], progress_start=9,
                                             monkeypatch=monkeypatch)
    assert handled == [10, 11, 12, 13, 14, 15, 16]
    assert read_back == [("t.requests", 2, 12, 15)] and acked == [12, 13, 14] and stored == {2: 16}


def test_a_gap_right_after_a_restart_is_found_from_the_stored_progress(monkeypatch):
    handled, read_back, _, _ = _run([_event(13)], progress_start=9, monkeypatch=monkeypatch)
    assert handled == [10, 11, 12, 13] and read_back == [("t.requests", 2, 10, 13)]


def test_redelivered_messages_are_handled_again_without_moving_progress_back(monkeypatch):
    handled, read_back, _, stored = _run([_event(o) for o in (7, 8, 9, 10)], progress_start=9,
                                         monkeypatch=monkeypatch)
    assert handled == [7, 8, 9, 10] and read_back == [] and stored == {2: 10}


def test_skipped_messages_already_handled_are_acked_without_handling_them_again(monkeypatch):
    # Decided up to 20 before a restart; Faust redelivers from 12 but drops 14-16: they only hold its commit.
    delivered = [12, 13, 17, 18, 19, 20, 21]
    handled, read_back, acked, stored = _run([_event(o) for o in delivered], progress_start=20,
                                             monkeypatch=monkeypatch)
    assert handled == delivered and read_back == [] and acked == [14, 15, 16] and stored == {2: 21}


def test_skips_at_the_start_are_measured_from_the_committed_offset(monkeypatch):
    # Faust started at the committed offset 10 and dropped 10-12 and 14-20, handled before; 21-22 are new and read
    # back (and acked once handled).
    handled, read_back, acked, _ = _run([_event(13), _event(23)], progress_start=20, committed=10,
                                        monkeypatch=monkeypatch)
    assert acked == [10, 11, 12, *range(14, 21), 21, 22] and read_back == [("t.requests", 2, 21, 23)]
    assert handled == [13, 21, 22, 23]


def test_skips_after_a_rebalance_are_measured_from_the_committed_offset_again(monkeypatch):
    # Generation 1 delivered up to 30 (all handled). A rebalance (generation 2) makes Faust read again from the
    # committed offset 25, and it drops 25-27: only a memory of generation 1's 30 would leave them unacked.
    events = [*(_event(o) for o in range(20, 31)), *(_event(o, generation=2) for o in range(28, 32))]
    handled, read_back, acked, _ = _run(events, progress_start=19, committed=[20, 25], monkeypatch=monkeypatch)
    assert acked == [25, 26, 27] and read_back == []
    assert handled == [*range(20, 31), *range(28, 32)]


def test_a_partition_never_committed_is_read_from_its_first_offset(monkeypatch):
    _, _, acked, _ = _run([_event(3)], progress_start=5, committed=None, monkeypatch=monkeypatch)
    assert acked == [0, 1, 2]


def test_nothing_is_acked_for_a_partition_without_progress(monkeypatch):
    handled, _, acked, _ = _run([_event(4)], monkeypatch=monkeypatch, committed=0)
    assert handled == [4] and acked == []
