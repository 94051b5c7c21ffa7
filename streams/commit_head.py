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
"""
from __future__ import annotations

from typing import Any

from faust.transport.consumer import Consumer

_faust_new_offset = Consumer._new_offset


def _new_offset(self: Any, tp: Any) -> int | None:
    acked = self._acked[tp]
    if acked and not self._gap[tp]:
        first = min(acked)
        committed = self._committed_offset[tp]
        if committed is not None and first > committed:
            return None  # the message at the committed position is not acked yet: commit nothing past it
        # Nothing committed yet (a new topic or consumer group): the head is unknown, but a message handed to the
        # agents and not acked before the run must not be passed either.
        if committed is None and any(m.tp == tp and m.offset < first for m in list(self._unacked_messages)):
            return None
    return _faust_new_offset(self, tp)


def install() -> None:
    """Patch Faust's consumer (idempotent); streams/app.py calls it before the app starts."""
    Consumer._new_offset = _new_offset  # type: ignore[method-assign]
