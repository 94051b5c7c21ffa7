"""Builds the service layer's ports from the settings: once per front-door process, once per CLI command."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from pymongo.database import Database

from schemas import events as ev
from service_config import Settings
from service_layer.ports import JobChanges, NoReplies, PollingChanges, Ports, ReplyWaiter, WebhookPorts

from . import kafka, mongo, webhook_http, webhook_store
from .blobstore import BlobStore, GuardedBlobs


def build_ports(settings: Settings, db: Database, publisher: kafka.EventPublisher, blobs: BlobStore,
                replies: ReplyWaiter | None = None, *, job_changes: JobChanges | None = None,
                request_id: Callable[[], str | None] | None = None) -> Ports:
    extra = {"request_id": request_id} if request_id is not None else {}
    return Ports(
        store=mongo.MongoStore(db),
        publisher=publisher,
        blobs=GuardedBlobs(blobs),
        replies=replies or NoReplies(),
        reply_timeout_s=settings.ledger_reply_timeout_s,
        job_changes=job_changes or PollingChanges(),
        webhooks=WebhookPorts(store=webhook_store.MongoWebhookStore(db), resolve=webhook_http.resolve_host,
                              allow_private_targets=settings.webhook_allow_private_targets),
        **extra,
    )


class _LazyPublisher:
    """An operator command opens a Kafka producer only if it publishes (listing keys does not)."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._publisher: kafka.EventPublisher | None = None

    def publish(self, topic: str, key: str, event: ev.Event) -> None:
        if self._publisher is None:
            self._publisher = kafka.EventPublisher(self._settings)
        self._publisher.publish(topic, key, event)

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()


class _LazyBlobs:
    """An operator command makes an S3 client only if it touches storage."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._blobs: GuardedBlobs | None = None

    def _get(self) -> GuardedBlobs:
        if self._blobs is None:
            self._blobs = GuardedBlobs(BlobStore(self._settings))
        return self._blobs

    def put_file(self, key: str, fileobj: IO[bytes], content_type: str) -> None:
        self._get().put_file(key, fileobj, content_type)

    def delete(self, key: str) -> None:
        self._get().delete(key)

    def presigned_url(self, key: str) -> str:
        return self._get().presigned_url(key)


@contextmanager
def operator_ports(settings: Settings, db: Database | None = None) -> Iterator[Ports]:
    """Ports for one operator command (no ledger replies awaited); a Kafka producer it opened is flushed at the
    end."""
    publisher = _LazyPublisher(settings)
    try:
        yield Ports(store=mongo.MongoStore(db if db is not None else mongo.connect(settings)), publisher=publisher,
                    blobs=_LazyBlobs(settings), reply_timeout_s=settings.ledger_reply_timeout_s)
    finally:
        publisher.close()
