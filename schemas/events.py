"""Versioned JSON events: the one envelope every Kafka message uses (the payloads: schemas/messages.py).

Envelope fields: ``name``, ``version``, ``id``, ``occurredAt``, ``correlationId``, ``payload``. The Kafka key is
chosen by the producer (account id for ledger traffic, job id for stage traffic) and is not part of the body.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

# Topic names (suffixes; the deployment adds a prefix, see service_config.Settings.topic).
TOPIC_REQUESTS = "requests"        # ledger commands and job requests, key = account id
TOPIC_LEDGER = "ledger"            # ledger events, the source of truth for credits, key = account id
TOPIC_JOBS = "jobs"                # job lifecycle events, key = job id
TOPIC_COMPLETIONS = "completions"  # public completion events for outside consumers, key = account id
TOPIC_DEAD_LETTERS = "deadletters" # messages that could not be decoded or handled, key = original key
TOPIC_WEBHOOKS = "webhookdeliveries"  # webhook delivery attempts waiting their turn, key = delivery id

ALL_TOPICS = (TOPIC_REQUESTS, TOPIC_LEDGER, TOPIC_JOBS, TOPIC_COMPLETIONS, TOPIC_DEAD_LETTERS, TOPIC_WEBHOOKS)

# What travels on each topic, with its wire name: the message types of schemas/messages.py (catalogue:
# docs/events.md). This module is only the envelope they all share.

# Job kinds (``payload.kind`` of job events and ``job.kind`` of reservations).
JOB_KIND_TTS = "tts"
JOB_KIND_CLONE = "clone"


class EventDecodeError(ValueError):
    """A message body is not a valid event envelope."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso_millis(moment: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and a Z, as the public API documents (2024-01-01T00:00:00.000Z)."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


@dataclass(frozen=True)
class Event:
    name: str
    payload: Mapping[str, Any]
    version: int = 1
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: str = field(default_factory=lambda: iso_millis(utc_now()))
    correlation_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "id": self.id,
            "occurredAt": self.occurred_at,
            "correlationId": self.correlation_id,
            "payload": dict(self.payload),
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(raw: bytes | str) -> Event:
    try:
        body = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise EventDecodeError("envelope must be a JSON object")
    missing = [k for k in ("name", "version", "id", "occurredAt", "payload") if k not in body]
    if missing:
        raise EventDecodeError(f"envelope lacks {', '.join(missing)}")
    if not isinstance(body["payload"], dict) or not isinstance(body["name"], str):
        raise EventDecodeError("envelope name must be a string and payload an object")
    if not isinstance(body["version"], int):
        raise EventDecodeError("envelope version must be an integer")
    return Event(
        name=body["name"],
        payload=body["payload"],
        version=body["version"],
        id=str(body["id"]),
        occurred_at=str(body["occurredAt"]),
        correlation_id=body.get("correlationId"),
    )
