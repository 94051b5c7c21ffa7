"""The front door's connections to the outside world, made once per process and kept on the Flask app."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app

from adapters import kafka, mongo, wiring
from adapters.blobstore import BlobStore
from adapters.mongo import Database, DatabaseError
from adapters.ratelimit import RateLimiter
from schemas import events as ev
from schemas import messages as msg
from service_config import Settings
from service_layer.ports import Ports

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
            ports=wiring.build_ports(settings, db, publisher, blobs, replies),
        )

    def close(self) -> None:
        self.replies.close()
        self.publisher.close()


def services() -> Services:
    return current_app.extensions["voiceforge"]


def ports() -> Ports:
    return services().ports
