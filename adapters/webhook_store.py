"""MongoDB storage of webhooks: the accounts' endpoints (with their signing secrets) and the delivery log.

Collections: ``webhook_endpoints`` (one document per endpoint; deleting sets ``deletedAt``, so the log keeps its
endpoint; ``disabledAt`` is set while it is disabled, ``unannounced`` while the service's disable of it is not yet
announced (webhook.disabled); ``failedInARow`` and ``failingSince`` count its deliveries that failed since the last
one that succeeded), ``webhook_endpoint_slots`` (each endpoint's attempts in flight:
WEBHOOK_ENDPOINT_CONCURRENCY slots) and ``webhook_deliveries`` (one document per event and endpoint, ``_id`` =
"<event id>.<endpoint id>", with every attempt). The log is also the retry schedule: a pending delivery's
``nextRetryAt`` says when its next attempt is due, ``queuedUntil`` that an attempt message is on the Kafka topic (not
queued again before then), and ``attemptingUntil`` that a worker is POSTing it. An attempt is taken up
(``claim_attempt``) by one worker only, and recorded under a guard on ``attemptCount``: a redelivered or duplicated
attempt message is a no-op.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Mapping

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

Doc = Mapping[str, Any]

PENDING, SUCCEEDED, FAILED, CANCELLED = "pending", "succeeded", "failed", "cancelled"
WEBHOOK_DELETED = "webhook deleted"
WEBHOOK_DISABLED = "webhook disabled"

# Any MongoDB failure, for callers that retry without importing pymongo.
DatabaseError = PyMongoError


def ensure_indexes(db: Database) -> None:
    db.webhook_endpoints.create_index([("accountId", ASCENDING), ("createdAt", ASCENDING)])
    db.webhook_deliveries.create_index([("endpointId", ASCENDING), ("createdAt", DESCENDING)])
    db.webhook_deliveries.create_index([("nextRetryAt", ASCENDING)], name="pending_by_due",
                                       partialFilterExpression={"status": PENDING})
    db.webhook_endpoint_slots.create_index([("endpointId", ASCENDING), ("until", ASCENDING)])
    db.webhook_endpoints.create_index([("disabledAt", ASCENDING)], name="unannounced_disables",
                                      partialFilterExpression={"unannounced": True})


# --- endpoints -------------------------------------------------------------------------------------------------------

def insert_endpoint(db: Database, doc: Doc) -> None:
    db.webhook_endpoints.insert_one(dict(doc))


def list_endpoints(db: Database, account_id: str) -> list[dict[str, Any]]:
    """An account's endpoints (not deleted), oldest first."""
    return list(db.webhook_endpoints.find({"accountId": account_id, "deletedAt": None}).sort("createdAt", ASCENDING))


def count_endpoints(db: Database, account_id: str) -> int:
    return db.webhook_endpoints.count_documents({"accountId": account_id, "deletedAt": None})


def find_endpoint(db: Database, endpoint_id: str, account_id: str | None = None) -> Doc | None:
    """One endpoint, deleted ones too (the delivery agent cancels their deliveries); ``account_id``: the
    account's own only."""
    query: dict[str, Any] = {"_id": endpoint_id}
    if account_id is not None:
        query["accountId"] = account_id
    return db.webhook_endpoints.find_one(query)


def delete_endpoint(db: Database, account_id: str, endpoint_id: str, now: datetime) -> bool:
    """Mark it deleted and cancel its pending deliveries (one whose attempt is in flight is cancelled by the
    worker at its next attempt, so the log keeps the attempt the receiver saw)."""
    result = db.webhook_endpoints.update_one({"_id": endpoint_id, "accountId": account_id, "deletedAt": None},
                                             {"$set": {"deletedAt": now}})
    if result.modified_count != 1:
        return False
    _cancel_pending(db, endpoint_id, WEBHOOK_DELETED, now)
    return True


def _cancel_pending(db: Database, endpoint_id: str, reason: str, now: datetime) -> None:
    """Cancel the endpoint's pending deliveries that are not in flight (a worker cancels those at their next
    attempt, so the log keeps the attempt the receiver saw)."""
    db.webhook_deliveries.update_many({"endpointId": endpoint_id, "status": PENDING, **_not_in_flight(now)},
                                      {"$set": {"status": CANCELLED, "nextRetryAt": None, "error": reason,
                                                "updatedAt": now}})


def note_outcome(db: Database, endpoint_id: str, succeeded: bool, now: datetime) -> Doc | None:
    """Count a delivery that has ended: a success ends the endpoint's run of failures (None returned); a failure
    lengthens it (atomically, so deliveries ending at once on several workers all count) and returns the endpoint
    as it now is."""
    if succeeded:
        db.webhook_endpoints.update_one({"_id": endpoint_id, "failedInARow": {"$gt": 0}},
                                        {"$set": {"failedInARow": 0, "failingSince": None}})
        return None
    return db.webhook_endpoints.find_one_and_update(
        {"_id": endpoint_id},
        [{"$set": {"failedInARow": {"$add": [{"$ifNull": ["$failedInARow", 0]}, 1]},
                   "failingSince": {"$ifNull": ["$failingSince", now]}}}],
        return_document=ReturnDocument.AFTER)


def disable_endpoint(db: Database, endpoint_id: str, reason: str, now: datetime,
                     account_id: str | None = None, announce: bool = False) -> Doc | None:
    """Disable an enabled endpoint (``account_id``: the account's own only) and cancel its pending deliveries; the
    endpoint as it now is, or None when it is deleted, already disabled or not there. ``announce``: the disable is
    marked ``unannounced`` until :func:`mark_announced` (the webhook.disabled event is owed)."""
    query: dict[str, Any] = {"_id": endpoint_id, "deletedAt": None, "disabledAt": None}
    if account_id is not None:
        query["accountId"] = account_id
    update: dict[str, Any] = {"disabledAt": now, "disabledReason": reason}
    if announce:
        update["unannounced"] = True
    done = db.webhook_endpoints.find_one_and_update(query, {"$set": update}, return_document=ReturnDocument.AFTER)
    if done is not None:
        _cancel_pending(db, endpoint_id, WEBHOOK_DISABLED, now)
    return done


def enable_endpoint(db: Database, account_id: str, endpoint_id: str) -> Doc | None:
    """Enable the account's disabled endpoint, its run of failures forgotten; the endpoint as it now is, or None when
    it is enabled already, deleted or not the account's."""
    return db.webhook_endpoints.find_one_and_update(
        {"_id": endpoint_id, "accountId": account_id, "deletedAt": None, "disabledAt": {"$ne": None}},
        {"$set": {"disabledAt": None, "disabledReason": None, "failedInARow": 0, "failingSince": None},
         "$unset": {"unannounced": ""}},
        return_document=ReturnDocument.AFTER)


def mark_announced(db: Database, endpoint_id: str, disabled_at: datetime) -> None:
    """The webhook.disabled event of this disable is on the topic (a later disable is not)."""
    db.webhook_endpoints.update_one({"_id": endpoint_id, "disabledAt": disabled_at, "unannounced": True},
                                    {"$unset": {"unannounced": ""}})


def unannounced_disables(db: Database, before: datetime, limit: int) -> list[dict[str, Any]]:
    """Endpoints the service disabled before ``before`` whose webhook.disabled event is still owed (the worker that
    disabled one stopped before it announced), oldest first."""
    return list(db.webhook_endpoints.find({"unannounced": True, "disabledAt": {"$ne": None, "$lt": before},
                                           "deletedAt": None}).sort("disabledAt", ASCENDING).limit(limit))


def rotate_secret(db: Database, account_id: str, endpoint_id: str, current: str, secret: str, previous: str | None,
                  previous_until: datetime | None) -> Doc | None:
    """Replace the endpoint's secret ``current`` by ``secret``, keeping ``previous`` valid until ``previous_until``;
    the endpoint after, or None when it is gone or its secret is no longer ``current`` (a rotation in between)."""
    return db.webhook_endpoints.find_one_and_update(
        {"_id": endpoint_id, "accountId": account_id, "deletedAt": None, "secret": current},
        {"$set": {"secret": secret, "previousSecret": previous, "previousSecretExpiresAt": previous_until}},
        return_document=ReturnDocument.AFTER)


# --- deliveries ------------------------------------------------------------------------------------------------------

def create_delivery(db: Database, doc: Doc, cancelled: str | None = None) -> bool:
    """Insert a delivery (status pending, no attempt yet; ``cancelled``: logged cancelled for this reason, not to be
    made — an event for a disabled endpoint, which can be redelivered once it is enabled); False when it already
    exists (a redelivered event)."""
    ended = {} if cancelled is None else {"status": CANCELLED, "error": cancelled, "nextRetryAt": None,
                                          "queuedUntil": None}
    try:
        db.webhook_deliveries.insert_one({**doc, "status": PENDING, "attempts": [], "attemptCount": 0, **ended})
    except DuplicateKeyError:
        return False
    return True


def find_delivery(db: Database, delivery_id: str) -> Doc | None:
    return db.webhook_deliveries.find_one({"_id": delivery_id})


def _not_in_flight(now: datetime) -> dict[str, Any]:
    return {"attemptingUntil": {"$not": {"$gt": now}}}  # never set, cleared, or its worker's lease ran out


def claim_attempt(db: Database, delivery_id: str, attempt: int, now: datetime, lease_until: datetime,
                  early_s: float = 0.0) -> Doc | None:
    """Take up attempt number ``attempt`` of a delivery until ``lease_until``: the delivery (without its past
    attempts) when it is this worker's to make, None when it is not (made already, in flight on another worker,
    not due until more than ``early_s`` from now, or the delivery has ended)."""
    return db.webhook_deliveries.find_one_and_update(
        {"_id": delivery_id, "status": PENDING, "attemptCount": attempt - 1,
         "nextRetryAt": {"$lte": now + timedelta(seconds=early_s)}, **_not_in_flight(now)},
        {"$set": {"attemptingUntil": lease_until, "queuedUntil": None}},
        projection={"attempts": False}, return_document=ReturnDocument.AFTER)


def take_endpoint_slot(db: Database, endpoint_id: str, holder: str, now: datetime, until: datetime,
                       cap: int) -> str | None:
    """One of the endpoint's ``cap`` attempt slots, held by ``holder`` until ``until`` (or its release): the slot's
    id, or None when all are held. Atomic per slot (a free or lapsed slot is taken by one caller only), so at most
    ``cap`` attempts to an endpoint are in flight over all workers; a killed worker's slot lapses."""
    for index in range(cap):
        slot_id = f"{endpoint_id}:{index}"
        try:
            db.webhook_endpoint_slots.update_one(
                {"_id": slot_id, "until": {"$not": {"$gt": now}}},
                {"$set": {"endpointId": endpoint_id, "holder": holder, "until": until}}, upsert=True)
        except DuplicateKeyError:  # held: the filter missed and the upsert met the existing slot
            continue
        return slot_id
    return None


def release_endpoint_slot(db: Database, slot_id: str, holder: str) -> None:
    db.webhook_endpoint_slots.update_one({"_id": slot_id, "holder": holder}, {"$set": {"until": None, "holder": None}})


def endpoint_slots_free_at(db: Database, endpoint_id: str) -> datetime | None:
    """When the first of the endpoint's held slots lapses at the latest (None: none held)."""
    doc = db.webhook_endpoint_slots.find_one({"endpointId": endpoint_id, "until": {"$ne": None}},
                                            sort=[("until", ASCENDING)])
    return None if doc is None else doc["until"]


def renew_endpoint_slot(db: Database, slot_id: str, holder: str, until: datetime) -> None:
    db.webhook_endpoint_slots.update_one({"_id": slot_id, "holder": holder}, {"$set": {"until": until}})


def defer_attempt(db: Database, delivery_id: str, attempt: int, until: datetime, now: datetime) -> bool:
    """Put attempt number ``attempt`` off (its webhook had no free slot; it is not an attempt made): the next
    attempt of that webhook to end takes it up (``claim_deferred``), else the log queues it again at ``until``.
    False when it is made or in flight already."""
    result = db.webhook_deliveries.update_one(
        {"_id": delivery_id, "status": PENDING, "attemptCount": attempt - 1, **_not_in_flight(now)},
        {"$set": {"deferredUntil": until, "queuedUntil": None}})
    return result.modified_count == 1


def _deferred(endpoint_id: str, now: datetime) -> dict[str, Any]:
    return {"endpointId": endpoint_id, "status": PENDING, "deferredUntil": {"$gt": now},
            "nextRetryAt": {"$lte": now}, "body": {"$exists": True}, **_not_in_flight(now)}


def claim_deferred(db: Database, endpoint_id: str, now: datetime) -> dict[str, Any] | None:
    """The webhook's longest-due put-off delivery, no longer put off (the caller holds a slot and makes it next)."""
    return db.webhook_deliveries.find_one_and_update(
        _deferred(endpoint_id, now), {"$set": {"deferredUntil": None}}, sort=[("nextRetryAt", ASCENDING)],
        projection={"attempts": False}, return_document=ReturnDocument.AFTER)


def has_deferred(db: Database, endpoint_id: str, now: datetime) -> bool:
    return db.webhook_deliveries.find_one(_deferred(endpoint_id, now), {"_id": True}) is not None


def claim_due(db: Database, now: datetime, queued_until: datetime, limit: int) -> list[dict[str, Any]]:
    """Pending deliveries whose next attempt is due and has no message on the topic, marked as queued until
    ``queued_until`` (each claimed by one caller: several workers may poll at once); at most ``limit``, the
    longest due first."""
    due: list[dict[str, Any]] = []
    query = {"status": PENDING, "nextRetryAt": {"$lte": now}, "queuedUntil": {"$not": {"$gt": now}},
             "deferredUntil": {"$not": {"$gt": now}}, "body": {"$exists": True}, **_not_in_flight(now)}
    while len(due) < limit:
        doc = db.webhook_deliveries.find_one_and_update(
            query, {"$set": {"queuedUntil": queued_until}}, sort=[("nextRetryAt", ASCENDING)],
            projection={"attempts": False}, return_document=ReturnDocument.AFTER)
        if doc is None:
            break
        due.append(doc)
    return due


def keep_body(db: Database, delivery_id: str, body: str) -> None:
    """Store the POSTed body in a pending delivery logged before the log kept it (an older version's), so its
    retries can be queued from the log."""
    db.webhook_deliveries.update_one({"_id": delivery_id, "status": PENDING, "body": {"$exists": False}},
                                     {"$set": {"body": body}})


def record_attempt(db: Database, delivery_id: str, attempt: Doc, status: str, next_retry_at: datetime | None,
                   now: datetime) -> bool:
    """Append attempt number ``attempt["attempt"]`` unless it is already there; False then (someone else did)."""
    number = attempt["attempt"]
    result = db.webhook_deliveries.update_one(
        {"_id": delivery_id, "attemptCount": number - 1, "status": PENDING},
        {"$push": {"attempts": dict(attempt)},
         "$set": {"attemptCount": number, "status": status, "nextRetryAt": next_retry_at, "updatedAt": now,
                  "lastStatusCode": attempt.get("statusCode"), "attemptingUntil": None}})
    return result.modified_count == 1


def cancel_delivery(db: Database, delivery_id: str, reason: str, now: datetime) -> None:
    db.webhook_deliveries.update_one({"_id": delivery_id, "status": PENDING},
                                     {"$set": {"status": CANCELLED, "nextRetryAt": None, "error": reason,
                                               "updatedAt": now}})


def redeliver(db: Database, account_id: str, endpoint_id: str, delivery_id: str, now: datetime) -> Doc | None:
    """Make an ended delivery (succeeded, failed, cancelled) pending again, its next attempt due now (the retry
    poll queues it); the delivery as it is then, or None when there is no such ended delivery of the account's
    endpoint with its body logged."""
    return db.webhook_deliveries.find_one_and_update(
        {"_id": delivery_id, "accountId": account_id, "endpointId": endpoint_id,
         "status": {"$in": [SUCCEEDED, FAILED, CANCELLED]}, "body": {"$exists": True}},
        {"$set": {"status": PENDING, "nextRetryAt": now, "queuedUntil": None, "attemptingUntil": None,
                  "error": None, "updatedAt": now, "redeliveredAt": now}},
        return_document=ReturnDocument.AFTER)


def list_deliveries(db: Database, account_id: str, endpoint_id: str, limit: int) -> list[dict[str, Any]]:
    """An endpoint's deliveries, newest first."""
    cursor = db.webhook_deliveries.find({"accountId": account_id, "endpointId": endpoint_id})
    return list(cursor.sort([("createdAt", DESCENDING), ("_id", DESCENDING)]).limit(limit))


class MongoWebhookStore:
    """The service layer's ``WebhookStore`` port over one database: each method is the function of its name."""

    def __init__(self, db: Database):
        self.db = db

    def insert_endpoint(self, doc: Doc) -> None:
        insert_endpoint(self.db, doc)

    def list_endpoints(self, account_id: str) -> list[dict[str, Any]]:
        return list_endpoints(self.db, account_id)

    def count_endpoints(self, account_id: str) -> int:
        return count_endpoints(self.db, account_id)

    def find_endpoint(self, endpoint_id: str, account_id: str | None = None) -> Doc | None:
        return find_endpoint(self.db, endpoint_id, account_id)

    def delete_endpoint(self, account_id: str, endpoint_id: str, now: datetime) -> bool:
        return delete_endpoint(self.db, account_id, endpoint_id, now)

    def disable_endpoint(self, account_id: str, endpoint_id: str, reason: str, now: datetime) -> Doc | None:
        return disable_endpoint(self.db, endpoint_id, reason, now, account_id)

    def enable_endpoint(self, account_id: str, endpoint_id: str) -> Doc | None:
        return enable_endpoint(self.db, account_id, endpoint_id)

    def rotate_secret(self, account_id: str, endpoint_id: str, current: str, secret: str, previous: str | None,
                      previous_until: datetime | None) -> Doc | None:
        return rotate_secret(self.db, account_id, endpoint_id, current, secret, previous, previous_until)

    def list_deliveries(self, account_id: str, endpoint_id: str, limit: int) -> list[dict[str, Any]]:
        return list_deliveries(self.db, account_id, endpoint_id, limit)

    def find_delivery(self, account_id: str, endpoint_id: str, delivery_id: str) -> Doc | None:
        return self.db.webhook_deliveries.find_one({"_id": delivery_id, "accountId": account_id,
                                                    "endpointId": endpoint_id})

    def redeliver(self, account_id: str, endpoint_id: str, delivery_id: str, now: datetime) -> Doc | None:
        return redeliver(self.db, account_id, endpoint_id, delivery_id, now)
