"""What the service layer needs from the outside world, as protocols; ``adapters/`` implements them.

The :class:`Ports` bundle is built once per process (``adapters.wiring``) and passed to every use case; unit
tests pass fakes.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Protocol

from schemas import events as ev
from schemas import ids

Doc = Mapping[str, Any]
"""A stored view document (MongoDB), as the adapters return it."""


class Unavailable(RuntimeError):
    """Raised by an adapter when its service (Kafka, S3) did not answer in time; the request may be retried."""


class Store(Protocol):
    """The MongoDB views (``adapters.mongo.MongoStore``)."""

    # accounts and API keys
    def find_account(self, account_id: str) -> Doc | None: ...
    def upsert_account(self, account_id: str, name: str, now: datetime) -> None: ...
    def insert_api_key(self, key_id: str, account_id: str, key_hash: str, prefix: str, now: datetime,
                       name: str | None = None) -> None: ...
    def find_active_key(self, key_hash: str) -> Doc | None: ...
    def find_api_key(self, key_id: str) -> Doc | None: ...
    def list_api_keys(self, account_id: str) -> list[dict[str, Any]]: ...
    def count_active_api_keys(self, account_id: str) -> int: ...
    def revoke_api_key(self, account_id: str | None, key_id: str, now: datetime) -> bool: ...

    # voices (a USER voice is the view of its clone job)
    def find_usable_voice(self, account_id: str, voice_id: str) -> Doc | None: ...
    def find_own_voice(self, account_id: str, voice_id: str) -> Doc | None: ...
    def list_voices(self, account_id: str, *, status: str | None, voice_type: str | None, sort_by: str,
                    descending: bool, skip: int, limit: int) -> tuple[list[Doc], int]: ...
    def apply_voice_transition(self, voice_id: str, target_state: str, fields: Doc, insert_fields: Doc) -> bool: ...
    def update_own_voice(self, account_id: str, voice_id: str, fields: Doc) -> Doc | None: ...
    def delete_own_voice(self, account_id: str, voice_id: str, now: datetime) -> bool: ...

    # speech jobs
    def apply_job_transition(self, job_id: str, target_state: str, fields: Doc, insert_fields: Doc) -> bool: ...
    def find_speech(self, account_id: str, speech_id: str) -> Doc | None: ...

    # credits
    def find_credit_view(self, account_id: str) -> Doc | None: ...
    def find_ledger_entries(self, account_id: str, before_sequence: int | None, limit: int) -> list[dict[str, Any]]: ...
    def find_ledger_entry_by_command(self, account_id: str, command_id: str) -> Doc | None: ...


class Publisher(Protocol):
    """Kafka: publish one event and wait for the broker's acknowledgement; raises :class:`Unavailable`."""

    def publish(self, topic: str, key: str, event: ev.Event) -> None: ...


class ReplyWaiter(Protocol):
    """The ledger's decisions on the jobs topic: ``expect(job_id)`` *before* publishing, then ``wait(timeout_s)``
    returns JobAccepted / JobRejected or None when none came in time."""

    def expect(self, job_id: str) -> Callable[[float], ev.Event | None]: ...


class Blobs(Protocol):
    """S3 objects; every method raises :class:`Unavailable` when storage is down."""

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def presigned_url(self, key: str) -> str: ...


class Changes(Protocol):
    """One waiting request's view of its job's changes."""

    def wait(self, timeout_s: float) -> bool: ...  # True when the job changed (or may have); False at the timeout


class JobChanges(Protocol):
    """Wakes a request that waits for a job to end (``adapters.job_watch.JobWatcher``: a MongoDB change stream).
    ``subscribe`` gives None when the process cannot take one more waiting request: answer at once then."""

    def subscribe(self, job_id: str) -> AbstractContextManager[Changes | None]: ...


class _Sleep:
    def wait(self, timeout_s: float) -> bool:
        time.sleep(max(0.0, min(timeout_s, 0.5)))
        return True


class PollingChanges:
    """A :class:`JobChanges` without a watcher (operator CLI, unit tests): re-read every 0.5 s."""

    @contextmanager
    def subscribe(self, job_id: str) -> Iterator[Changes | None]:
        yield _Sleep()


class WebhookStore(Protocol):
    """The accounts' webhook endpoints and their delivery log (``adapters.webhook_store.MongoWebhookStore``)."""

    def insert_endpoint(self, doc: Doc) -> None: ...
    def list_endpoints(self, account_id: str) -> list[dict[str, Any]]: ...
    def count_endpoints(self, account_id: str) -> int: ...
    def find_endpoint(self, endpoint_id: str, account_id: str | None = None) -> Doc | None: ...
    def delete_endpoint(self, account_id: str, endpoint_id: str, now: datetime) -> bool: ...
    def disable_endpoint(self, account_id: str, endpoint_id: str, reason: str, now: datetime) -> Doc | None: ...
    def enable_endpoint(self, account_id: str, endpoint_id: str) -> Doc | None: ...
    def rotate_secret(self, account_id: str, endpoint_id: str, current: str, secret: str, previous: str | None,
                      previous_until: datetime | None) -> Doc | None: ...
    def list_deliveries(self, account_id: str, endpoint_id: str, limit: int) -> list[dict[str, Any]]: ...
    def find_delivery(self, account_id: str, endpoint_id: str, delivery_id: str) -> Doc | None: ...
    def redeliver(self, account_id: str, endpoint_id: str, delivery_id: str, now: datetime) -> Doc | None: ...


@dataclass(frozen=True)
class WebhookPorts:
    """What registering a webhook needs: its store, a DNS lookup (host, port) -> addresses, and whether the
    operator lets targets be private addresses (WEBHOOK_ALLOW_PRIVATE_TARGETS)."""
    store: WebhookStore
    resolve: Callable[[str, int], list[str]]
    allow_private_targets: bool = False


class NoReplies:
    """A :class:`ReplyWaiter` for processes that never wait for the ledger (the operator CLI)."""

    def expect(self, job_id: str) -> Callable[[float], ev.Event | None]:
        return lambda _timeout_s: None


def _new_id(prefix: str = "cl", length: int = 24) -> str:
    return ids.new_id(prefix, length)


def _no_request() -> str | None:
    return None


def _new_uuid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Ports:
    store: Store
    publisher: Publisher
    blobs: Blobs
    replies: ReplyWaiter = field(default_factory=NoReplies)
    reply_timeout_s: float = 10.0  # how long a paid request waits for the ledger's decision
    clock: Callable[[], datetime] = ev.utc_now
    new_id: Callable[[str, int], str] = _new_id
    # Voice ids are UUIDs: /v1 names a voice by UUID (custom_voice_id, /v1/custom-voices/{id}); one id per voice.
    new_voice_id: Callable[[], str] = _new_uuid
    webhooks: WebhookPorts | None = None  # None: a process that does not manage webhooks
    job_changes: JobChanges = field(default_factory=PollingChanges)  # wakes requests that wait for a job
    # The id of the request being served (its X-Request-Id), carried by the jobs it makes; None outside a request.
    request_id: Callable[[], str | None] = _no_request
