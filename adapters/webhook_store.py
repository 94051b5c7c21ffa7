"""MongoDB storage of webhooks: the accounts' endpoints (with their signing secrets) and the delivery log.

Collections: ``webhook_endpoints`` (one document per endpoint; deleting sets ``deletedAt``, so the log keeps its
endpoint) and ``webhook_deliveries`` (one document per event and endpoint, ``_id`` = "<event id>.<endpoint id>",
with every attempt). Attempts are recorded under a guard on ``attemptCount``, so a redelivered delivery message
never records one attempt twice.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from pymongo import ASCENDING, DESCENDING
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

Doc = Mapping[str, Any]

PENDING, SUCCEEDED, FAILED, CANCELLED = "pending", "succeeded", "failed", "cancelled"

# Any MongoDB failure, for callers that retry without importing pymongo.
DatabaseError = PyMongoError


def ensure_indexes(db: Database) -> None:
    db.webhook_endpoints.create_index([("accountId", ASCENDING), ("createdAt", ASCENDING)])
    db.webhook_deliveries.create_index([("endpointId", ASCENDING), ("createdAt", DESCENDING)])


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
    result = db.webhook_endpoints.update_one({"_id": endpoint_id, "accountId": account_id, "deletedAt": None},
                                             {"$set": {"deletedAt": now}})
    return result.modified_count == 1


# --- deliveries ------------------------------------------------------------------------------------------------------

def create_delivery(db: Database, doc: Doc) -> bool:
    """Insert a delivery (status pending, no attempt yet); False when it already exists (a redelivered event)."""
    try:
        db.webhook_deliveries.insert_one({**doc, "status": PENDING, "attempts": [], "attemptCount": 0})
    except DuplicateKeyError:
        return False
    return True


def find_delivery(db: Database, delivery_id: str) -> Doc | None:
    return db.webhook_deliveries.find_one({"_id": delivery_id})


def record_attempt(db: Database, delivery_id: str, attempt: Doc, status: str, next_retry_at: datetime | None,
                   now: datetime) -> bool:
    """Append attempt number ``attempt["attempt"]`` unless it is already there; False then (someone else did)."""
    number = attempt["attempt"]
    result = db.webhook_deliveries.update_one(
        {"_id": delivery_id, "attemptCount": number - 1, "status": PENDING},
        {"$push": {"attempts": dict(attempt)},
         "$set": {"attemptCount": number, "status": status, "nextRetryAt": next_retry_at, "updatedAt": now,
                  "lastStatusCode": attempt.get("statusCode")}})
    return result.modified_count == 1


def cancel_delivery(db: Database, delivery_id: str, reason: str, now: datetime) -> None:
    db.webhook_deliveries.update_one({"_id": delivery_id, "status": PENDING},
                                     {"$set": {"status": CANCELLED, "nextRetryAt": None, "error": reason,
                                               "updatedAt": now}})


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

    def list_deliveries(self, account_id: str, endpoint_id: str, limit: int) -> list[dict[str, Any]]:
        return list_deliveries(self.db, account_id, endpoint_id, limit)
