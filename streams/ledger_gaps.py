"""Input gaps: messages Faust drops without processing them, found and read back so the ledger loses none.

Faust (faust-streaming 0.15) can drop input messages around a restart or rebalance: messages fetched while tables
recover are discarded with the queues, the consumer's read position has moved past them, and they are never
handed to the agent (faust-streaming/faust#596; #606 is a relative). They are not acked either, so Faust's commit
stops at the first of them, or, when exactly one is missing at the committed head, commits past it.
For the credit ledger a dropped command is a lost reservation, capture or grant. Measured here: about one worker
restart in ten lost a few commands (tests/integration/test_ledger_crash.py).

So the ledger's consumers remember, per input partition, the last offset they handled (`Progress`). A message
further on than the next expected offset reveals a gap; the missing messages are read back from Kafka and handled
first, in offset order, then acked to Faust so its commit moves on. Handlers are idempotent, so reading back a
message that was in fact handled (a progress record older than the truth) is harmless. A gap at the very end of a
partition shows when the partition's next message arrives (or at the next restart, since its commit is held).

Faust also drops messages an earlier run had already handled: after a restart it redelivers from the committed
offset, which lags the progress, and may drop some of those. They need no handling, but unacked they hold Faust's
commit behind them until the next restart (found by tests/integration/test_ledger_tail_nudge.py after a worker was
killed). So each consumer also remembers, in memory, the last offset Faust delivered to it in the current consumer
generation (after a rebalance Faust reads again from the committed offsets); the offsets skipped since then that
the progress already covers are acked.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from faust.types import Message

from adapters import kafka, mongo

from .app import app, settings

log = logging.getLogger(__name__)

Handler = Callable[[bytes | None, bytes | None], Awaitable[None]]


class Progress:
    """Where a consumer of one topic got to, per partition: `get` and `put` are the caller's storage."""

    def __init__(self, get: Callable[[int], int | None], put: Callable[[int, int], None]):
        self.get = get
        self.put = put
        # Per partition, the consumer generation and the last offset Faust delivered in it: where its skips start.
        # A rebalance starts a generation, and Faust reads each assigned partition again from its committed offset.
        self.delivered: dict[int, tuple[int | None, int]] = {}

    def exact(self, partition: int) -> bool:
        """Whether get() is the last offset handled (True) or may lag behind it (a throttled saved value)."""
        return True

    def last_delivered(self, message) -> int | None:
        """The last offset of `message`'s partition Faust delivered before it in its consumer generation."""
        seen = self.delivered.get(message.partition)
        return seen[1] if seen is not None and seen[0] == _generation(message) else None

    def note_delivered(self, message) -> None:
        before = self.last_delivered(message)
        offset = message.offset if before is None else max(before, message.offset)
        self.delivered[message.partition] = (_generation(message), offset)


def _generation(message) -> int | None:
    return getattr(message, "generation_id", None)  # set by Faust when it fetched the message


class MongoProgress(Progress):
    """Progress of a consumer whose effects live in MongoDB: exact in memory, saved at most every second per
    partition. After a restart it may be a little behind, which only makes the first gap check re-read (and
    idempotently re-handle) what was handled last."""

    def __init__(self, db: Callable[[], Any], consumer: str, save_every_s: float = 1.0):
        # `db` gives the database when first needed: the worker's clients are built at start-up, not at import.
        self._db, self._consumer, self._every = db, consumer, save_every_s
        self._offsets: dict[int, int | None] = {}
        self._saved_at: dict[int, float] = {}
        super().__init__(self._get, self._put)

    def _get(self, partition: int) -> int | None:
        if partition not in self._offsets:
            self._offsets[partition] = mongo.stream_progress(self._db(), self._consumer, partition)
        return self._offsets[partition]

    def exact(self, partition: int) -> bool:
        return partition in self._saved_at  # handled by this process since it started

    def _put(self, partition: int, offset: int) -> None:
        self._offsets[partition] = offset
        self._saved_at.setdefault(partition, 0.0)
        now = time.monotonic()
        if now - self._saved_at.get(partition, 0.0) >= self._every:
            self._saved_at[partition] = now
            mongo.save_stream_progress(self._db(), self._consumer, partition, offset)


async def handle_with_gaps(event, progress: Progress, handle: Handler, *, what: str) -> int:
    """Handle `event`, first handling any messages of its partition dropped since the last one handled.

    Returns how many dropped messages were read back. `handle(key, value)` must be idempotent and is called in the
    current event's context (table writes go to this event's partition, the partition of the dropped ones too).
    """
    message = event.message
    partition, offset = message.partition, message.offset
    last = progress.get(partition)
    if last is not None:
        await _ack_skipped_handled(message, last, progress, what)
    progress.note_delivered(message)
    recovered = 0
    if last is not None and offset > last + 1:
        missing = await asyncio.to_thread(kafka.read_range, settings, message.topic, partition, last + 1, offset)
        if progress.exact(partition):
            log.warning("%s: Faust skipped %s message(s) of %s[%s] at offsets %s-%s; reading them back", what,
                        len(missing), message.topic, partition, last + 1, offset - 1)
        else:
            log.info("%s: re-reading %s message(s) of %s[%s] from the saved progress (offsets %s-%s)", what,
                     len(missing), message.topic, partition, last + 1, offset - 1)
        for missing_offset, key, value in missing:
            await handle(key, value)
            progress.put(partition, missing_offset)
            ack_handled(message.topic, partition, missing_offset)
            recovered += 1
    await handle(event.key, event.value)
    if last is None or offset > last:
        progress.put(partition, offset)
    return recovered


async def _ack_skipped_handled(message, last: int, progress: Progress, what: str) -> None:
    """Ack the offsets before `message`'s that Faust skipped since its last delivery in this consumer generation
    and `last` already covers."""
    topic, partition, offset = message.topic, message.partition, message.offset
    before = progress.last_delivered(message)
    if before is None:  # the first delivery in this generation: Faust started reading at the committed offset
        try:
            committed, low, _high = await asyncio.to_thread(kafka.group_position, settings, app.conf.id, topic,
                                                            partition)
        except kafka.BusUnavailable as exc:
            log.warning("%s: could not read the committed offset of %s[%s]: %s", what, topic, partition, exc)
            return
        before = (low if committed is None else committed) - 1
    skipped = range(before + 1, min(offset, last + 1))
    if skipped:
        log.warning("%s: Faust skipped %s message(s) of %s[%s] at offsets %s-%s, handled before; acking them so "
                    "its commit moves on", what, len(skipped), topic, partition, skipped[0], skipped[-1])
    for skipped_offset in skipped:
        ack_handled(topic, partition, skipped_offset)


def ack_handled(topic: str, partition: int, offset: int) -> None:
    """Tell Faust a message it dropped has been handled, so its offset commit can pass it."""
    app.consumer.ack(Message(topic, partition, offset, time.time(), 0, None, None, None, None))
