"""What the ledger timer decides, without Faust or Kafka: which time-driven commands the owned accounts are due
for, and which job to mark FAILED when its reservation expired."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from aiokafka.partitioner import murmur2  # a pure hash function; nothing here talks to Kafka

import ledger
from ledger import records
from ledger.schedule import due_commands
from schemas import events as ev
from schemas import jobs
from schemas import messages as msg

from .ledger_logic import CoreCache

TIMED_OUT_REASON = "Timed out: the job did not finish in time; no credits were charged"

_partition_of: dict[bytes, int] = {}


def partition_of(key: bytes, partitions: int) -> int:
    """The partition every producer (aiokafka, and confluent-kafka with murmur2_random) sends `key` to."""
    partition = _partition_of.get(key)
    if partition is None:
        partition = _partition_of[key] = (murmur2(key) & 0x7FFFFFFF) % partitions
    return partition


def due_now(table: Mapping[bytes, bytes], owned: set[int], now: datetime, partitions: int,
            cores: CoreCache | None = None,
            on_unreadable: Callable[[bytes], None] | None = None) -> list[ledger.Command]:
    """The commands due for the owned accounts (synchronous: the table is not changed while it is read)."""
    cores = cores or CoreCache()
    due: list[ledger.Command] = []
    keys: Iterable[bytes] = list(table.keys())
    for key in keys:
        if not records.is_core_key(key) or partition_of(key, partitions) not in owned:
            continue
        try:
            core = cores.core_of(table.get, key)
        except ledger.SerializationError:
            if on_unreadable is not None:
                on_unreadable(key)
            continue
        if core is not None:
            due.extend(due_commands(records.deadlines(core), now))
    return due


def expired_job(record: msg.Message) -> tuple[str, str] | None:
    """(account id, job id) when a ledger record is a reservation released because it expired."""
    if not isinstance(record, msg.ReservationReleasedRecord):
        return None
    event = record.ledger_event
    if event.reason != ledger.ReleaseReason.EXPIRED.value or not event.job_id:
        return None
    return record.account_id, event.job_id


def timed_out_event(job: Mapping[str, Any] | None, account_id: str, job_id: str) -> msg.JobFailed | None:
    """JobFailed for a job whose reservation expired, or None if its view is missing, another's, or ended."""
    if job is None or job.get("accountId") != account_id or job.get("state") in jobs.TERMINAL:
        return None
    # A clone job's view is its USER voice (adapters/mongo.find_speech_or_clone_job says kind "clone").
    kind = ev.JOB_KIND_CLONE if job.get("kind") == ev.JOB_KIND_CLONE else ev.JOB_KIND_TTS
    return msg.JobFailed(job_id=job_id, account_id=account_id, kind=kind, reason=TIMED_OUT_REASON)


def timed_out_envelope(failed: msg.JobFailed) -> ev.Event:
    """A fixed id per job: the same expiry seen twice (redelivery, two workers) publishes one envelope id."""
    return failed.envelope(id=f"expired:{failed.job_id}")
