"""The front door's connections to the outside world, made once per process and kept on the Flask app."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
import logging

from pymongo.database import Database
from pymongo.errors import PyMongoError

from adapters import kafka, mongo
from adapters.blobstore import BlobStore
from adapters.ratelimit import RateLimiter
from schemas import events as ev
from service_config import Settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    db: Database
    publisher: kafka.EventPublisher
    replies: kafka.ReplyListener
    blobs: BlobStore
    limiter: RateLimiter

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
        except PyMongoError as exc:
            log.warning("could not ensure MongoDB indexes at start-up: %s", exc)
        replies = kafka.ReplyListener(settings, ev.TOPIC_JOBS, frozenset({ev.JOB_ACCEPTED, ev.JOB_REJECTED}))
        replies.start()
        return cls(
            settings=settings,
            db=db,
            publisher=kafka.EventPublisher(settings),
            replies=replies,
            blobs=BlobStore(settings),
            limiter=RateLimiter(settings.redis_url, settings.rate_limit_per_minute),
        )

    def close(self) -> None:
        self.replies.close()
        self.publisher.close()


def services() -> Services:
    return current_app.extensions["voiceforge"]
