"""The front door's connections to the outside world, made once per process and kept on the Flask app."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from adapters import kafka, mongo, wiring
from adapters.blobstore import BlobStore
from adapters.idempotency import IdempotencyStore
from adapters.job_watch import JobWatcher
from adapters.mongo import Database, DatabaseError
from adapters.ratelimit import RateLimiter
from schemas import events as ev
from schemas import messages as msg
from service_config import Settings
from service_layer.ports import Ports

from . import request_ids

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    publisher: kafka.EventPublisher
    replies: kafka.ReplyListener
    blobs: BlobStore
    limiter: RateLimiter
    ports: Ports  # what the service layer's use cases are given
    job_read_limiter: RateLimiter  # reads of one's own jobs: their own window (frontdoor/ratelimits.py)
    idempotency: IdempotencyStore  # Idempotency-Key answers (frontdoor/idempotency.py)

    @classmethod
    def connect(cls, settings: Settings) -> "Services":
        # Reads (status, voices, credits) only need MongoDB, so the front door starts even while Kafka or Mongo
        # are down; requests that need them answer 503 until they are back.
        try:
            kafka.ensure_topics(settings, timeout_s=5)
        except Exception as exc:
            log.warning("could not ensure Kafka topics at start-up (%s); the workers create them too", exc)
        db = mongo.connect(settings)
        try:
            mongo.ensure_indexes(db)
        except DatabaseError as exc:
            log.warning("could not ensure MongoDB indexes at start-up: %s", exc)
        replies = kafka.ReplyListener(settings, ev.TOPIC_JOBS,
                                      frozenset({msg.JobAccepted.WIRE_NAME, msg.JobRejected.WIRE_NAME}))
        replies.start()
        publisher, blobs = kafka.EventPublisher(settings), BlobStore(settings)
        return cls(
            settings=settings,
            db=db,
            publisher=publisher,
            replies=replies,
            blobs=blobs,
            limiter=RateLimiter(settings.redis_url, settings.rate_limit_per_minute),
            ports=wiring.build_ports(settings, db, publisher, blobs, replies,
                                     job_changes=JobWatcher(db, max_waiters=settings.max_waiting_reads),
                                     request_id=request_ids.current),
            job_read_limiter=RateLimiter(settings.redis_url, settings.job_read_rate_limit_per_minute,
                                         namespace="jobreads"),
            # A running request keeps its key as long as the longest request may take (a /v1 sync wait).
            idempotency=IdempotencyStore(settings.redis_url, ttl_s=settings.idempotency_ttl_s,
                                         lock_s=int(settings.v1_sync_timeout_s + settings.ledger_reply_timeout_s)
                                         + 60),
        )

    def close(self) -> None:
        self.replies.close()
        self.publisher.close()


def services() -> Services:
    return current_app.extensions["voiceforge"]


def ports() -> Ports:
    return services().ports
