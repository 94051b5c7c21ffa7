"""The front door's connections to the outside world, made once per process and kept on the Flask app."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from pymongo.database import Database

from adapters import kafka, mongo
from adapters.blobstore import BlobStore
from adapters.ratelimit import RateLimiter
from schemas import events as ev
from service_config import Settings


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
        kafka.ensure_topics(settings)
        db = mongo.connect(settings)
        mongo.ensure_indexes(db)
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
