"""MongoDB views: accounts, API keys, voices, speeches (jobs) and credit balances, with the indexes they need.

Views are projections of events. Every write here is idempotent: job views only move forward through the job
state machine (guarded updates), so redelivered or replayed events are harmless.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from schemas import jobs
from service_config import Settings

# Any MongoDB failure, for callers that answer "unavailable" without importing pymongo.
DatabaseError = PyMongoError


def connect(settings: Settings) -> Database:
    client: MongoClient = MongoClient(
        settings.mongo_uri, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, tz_aware=True
    )
    return client[settings.mongo_db]


def ping(db: Database) -> None:
    """Raises a PyMongoError unless the server answers."""
    db.command("ping")


def ensure_indexes(db: Database) -> None:
    db.api_keys.create_index([("keyHash", ASCENDING)], unique=True)
    db.api_keys.create_index([("accountId", ASCENDING), ("createdAt", DESCENDING)])
    db.voices.create_index([("accountId", ASCENDING), ("createdAt", DESCENDING)])
    db.voices.create_index([("type", ASCENDING), ("isPublic", ASCENDING)])
    db.speeches.create_index([("accountId", ASCENDING), ("createdAt", DESCENDING)])
    db.speeches.create_index([("state", ASCENDING), ("createdAt", ASCENDING)])  # the sweeper's query
    db.voices.create_index([("state", ASCENDING), ("createdAt", ASCENDING)])
    ensure_voice_list_indexes(db)
    db.ledger_entries.create_index([("accountId", ASCENDING), ("sequence", DESCENDING)], unique=True)
    # each reused reference voice leaves at its own expiresAt (MongoDB's TTL monitor, once a minute)
    db.reference_voices.create_index([("expiresAt", ASCENDING)], expireAfterSeconds=0)


# --- accounts and keys -------------------------------------------------------------------------------------------

def upsert_account(db: Database, account_id: str, name: str, now: datetime) -> None:
    db.accounts.update_one(
        {"_id": account_id}, {"$setOnInsert": {"_id": account_id, "name": name, "createdAt": now}}, upsert=True
    )


def insert_api_key(db: Database, key_id: str, account_id: str, key_hash: str, prefix: str, now: datetime,
                   name: str | None = None) -> None:
    db.api_keys.insert_one(
        {"_id": key_id, "accountId": account_id, "keyHash": key_hash, "prefix": prefix, "name": name,
         "createdAt": now, "revokedAt": None}
    )


def find_active_key(db: Database, key_hash: str) -> Mapping[str, Any] | None:
    return db.api_keys.find_one({"keyHash": key_hash, "revokedAt": None})


# --- voices ------------------------------------------------------------------------------------------------------

def upsert_system_voice(db: Database, voice: Mapping[str, Any]) -> None:
    # Counters are only initialised: re-seeding must not reset usage.
    db.voices.update_one(
        {"_id": voice["_id"]}, {"$set": dict(voice), "$setOnInsert": {"usageCount": 0, "popularity": 0}}, upsert=True
    )


def find_usable_voice(db: Database, account_id: str, voice_id: str) -> Mapping[str, Any] | None:
    """The caller's own voice or a public system voice; anything else is invisible (tenant isolation). A voice
    whose clone was refused for lack of credits (status REJECTED) never existed for the caller."""
    return db.voices.find_one(
        {"_id": voice_id, "$or": [{"accountId": account_id}, {"type": "SYSTEM", "isPublic": True}],
         "status": {"$nin": HIDDEN_VOICE_STATUSES}}
    )


# A deleted voice leaves a tombstone (no metadata, no profile) in this state: the job state machine allows no
# transition out of it, so a clone job still in flight cannot bring the voice back.
VOICE_DELETED = "DELETED"
HIDDEN_VOICE_STATUSES = [jobs.VOICE_REJECTED, VOICE_DELETED]


def find_own_voice(db: Database, account_id: str, voice_id: str) -> Mapping[str, Any] | None:
    """One of the account's own (USER) voices, unless refused or deleted."""
    return db.voices.find_one({"_id": voice_id, "accountId": account_id, "type": "USER",
                               "status": {"$nin": HIDDEN_VOICE_STATUSES}}, {"usedByJobs": 0})


def update_own_voice(db: Database, account_id: str, voice_id: str,
                     fields: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Set metadata fields on one of the account's own voices; the updated voice, or None if it has none such."""
    return db.voices.find_one_and_update(
        {"_id": voice_id, "accountId": account_id, "type": "USER", "status": {"$nin": HIDDEN_VOICE_STATUSES}},
        {"$set": dict(fields)}, projection={"usedByJobs": 0}, return_document=ReturnDocument.AFTER)


def delete_own_voice(db: Database, account_id: str, voice_id: str, now: datetime) -> bool:
    """Replace one of the account's own voices by its tombstone; False if it has none such."""
    result = db.voices.replace_one(
        {"_id": voice_id, "accountId": account_id, "type": "USER", "status": {"$nin": HIDDEN_VOICE_STATUSES}},
        {"accountId": account_id, "type": "USER", "state": VOICE_DELETED, "status": VOICE_DELETED,
         "deletedAt": now, "updatedAt": now})
    return result.modified_count == 1


# --- speeches (job views) ----------------------------------------------------------------------------------------

def _guarded_upsert(collection, doc_id: str, guard: Mapping[str, Any], fields: Mapping[str, Any],
                    insert_fields: Mapping[str, Any]) -> bool:
    """Update the document if ``guard`` holds, create it if missing; a failed guard on an existing document is a
    no-op (the unique _id turns the upsert's insert into a DuplicateKeyError). Returns whether anything changed."""
    on_insert = {k: v for k, v in insert_fields.items() if k not in fields}
    update: dict[str, Any] = {"$set": dict(fields)}
    if on_insert:
        update["$setOnInsert"] = on_insert
    try:
        result = collection.update_one({"_id": doc_id, **guard}, update, upsert=True)
    except DuplicateKeyError:
        return False
    return bool(result.modified_count or result.upserted_id is not None)


def apply_job_transition(
    db: Database, job_id: str, target_state: str, fields: Mapping[str, Any], insert_fields: Mapping[str, Any]
) -> bool:
    """Move a job view to ``target_state`` if the state machine allows it; returns whether anything changed.

    ``insert_fields`` seed the document when the event arrives before any view of the job exists.
    """
    return _guarded_upsert(
        db.speeches,
        job_id,
        {"state": {"$in": jobs.states_before(target_state)}},
        {**fields, "state": target_state, "status": jobs.public_status(target_state)},
        insert_fields,
    )


def find_speech(db: Database, account_id: str, speech_id: str) -> Mapping[str, Any] | None:
    return db.speeches.find_one({"_id": speech_id, "accountId": account_id})


def increment_voice_usage(db: Database, voice_id: str, job_id: str) -> None:
    # Counted once per job: the job id is remembered on the voice (bounded by a slice).
    db.voices.update_one(
        {"_id": voice_id, "usedByJobs": {"$ne": job_id}},
        {"$inc": {"usageCount": 1}, "$push": {"usedByJobs": {"$each": [job_id], "$slice": -1000}}},
    )


# --- credits -----------------------------------------------------------------------------------------------------

def find_credit_view(db: Database, account_id: str) -> Mapping[str, Any] | None:
    return db.credit_views.find_one({"_id": account_id})


def save_credit_view(db: Database, account_id: str, view: Mapping[str, Any], sequence: int) -> bool:
    """Store a balance only if it comes from a later event of the account's ledger stream than the stored one."""
    return _guarded_upsert(
        db.credit_views, account_id, {"sequence": {"$lt": sequence}}, {**view, "sequence": sequence}, {}
    )


# --- API keys owned by an account (self-service) --------------------------------------------------------------------

def list_api_keys(db: Database, account_id: str) -> list[dict[str, Any]]:
    return list(db.api_keys.find({"accountId": account_id}, {"keyHash": 0}).sort("createdAt", DESCENDING))


def count_active_api_keys(db: Database, account_id: str) -> int:
    return db.api_keys.count_documents({"accountId": account_id, "revokedAt": None})


def revoke_api_key(db: Database, account_id: str | None, key_id: str, now: datetime) -> bool:
    """Revoke one of the account's own keys (``account_id`` None: any account's, for the operator); False if
    there is no such active key."""
    query: dict[str, Any] = {"_id": key_id, "revokedAt": None}
    if account_id is not None:
        query["accountId"] = account_id
    result = db.api_keys.update_one(query, {"$set": {"revokedAt": now}})
    return result.modified_count == 1


def find_api_key(db: Database, key_id: str) -> Mapping[str, Any] | None:
    return db.api_keys.find_one({"_id": key_id}, {"keyHash": 0})


# --- ledger: usage history and audit ------------------------------------------------------------------------------

def save_ledger_entry(db: Database, entry: Mapping[str, Any]) -> bool:
    """Insert one usage-history entry (``_id`` = the ledger event id); a redelivered one changes nothing.

    The unique (accountId, sequence) index also refuses a different event at a sequence already stored."""
    try:
        db.ledger_entries.insert_one(dict(entry))
    except DuplicateKeyError:
        return False
    return True


def find_ledger_entries(db: Database, account_id: str, before_sequence: int | None, limit: int) -> list[dict[str, Any]]:
    """The account's history entries, newest first, strictly before ``before_sequence`` when given."""
    query: dict[str, Any] = {"accountId": account_id}
    if before_sequence is not None:
        query["sequence"] = {"$lt": before_sequence}
    return list(db.ledger_entries.find(query).sort("sequence", DESCENDING).limit(limit))


def find_ledger_entry_by_command(db: Database, account_id: str, command_id: str) -> Mapping[str, Any] | None:
    return db.ledger_entries.find_one({"accountId": account_id, "commandId": command_id})


def ledger_entry_counts(db: Database, account_id: str | None = None) -> dict[str, int]:
    match = {} if account_id is None else {"accountId": account_id}
    pipeline = [{"$match": match}, {"$group": {"_id": "$accountId", "n": {"$sum": 1}}}]
    return {row["_id"]: row["n"] for row in db.ledger_entries.aggregate(pipeline)}


def credit_views(db: Database, account_id: str | None = None) -> list[dict[str, Any]]:
    return list(db.credit_views.find({} if account_id is None else {"_id": account_id}))


def find_job(db: Database, job_id: str) -> Mapping[str, Any] | None:
    """A job view's owner, kind and state (no payload fields)."""
    return db.speeches.find_one({"_id": job_id}, {"accountId": 1, "kind": 1, "state": 1, "status": 1})


def find_speech_or_clone_job(db: Database, job_id: str) -> Mapping[str, Any] | None:
    """A job's owner, kind and state: its speech view, else the USER voice a clone job makes (kind "clone")."""
    found = find_job(db, job_id)
    if found is not None:
        return found
    voice = db.voices.find_one({"_id": job_id, "type": "USER"}, {"accountId": 1, "state": 1, "status": 1})
    return {**voice, "kind": "clone"} if voice is not None else None


def find_unfinished_jobs(db: Database, created_before: datetime, limit: int = 500,
                         account_id: str | None = None) -> list[dict[str, Any]]:
    """Job views (speeches, and USER voices as clone jobs) not ended and requested before ``created_before``,
    oldest first: what the sweeper (streams/sweeper.py) fails. Each has _id, accountId, kind, state, createdAt."""
    query: dict[str, Any] = {"state": {"$in": sorted(jobs.UNFINISHED)}, "createdAt": {"$lt": created_before}}
    if account_id is not None:
        query["accountId"] = account_id
    fields = {"accountId": 1, "kind": 1, "state": 1, "createdAt": 1}
    found = [dict(doc) for doc in db.speeches.find(query, fields).sort("createdAt", ASCENDING).limit(limit)]
    voices = db.voices.find({**query, "type": "USER"}, fields).sort("createdAt", ASCENDING).limit(limit)
    found += [{**doc, "kind": "clone"} for doc in voices]
    return found


def find_account(db: Database, account_id: str) -> Mapping[str, Any] | None:
    return db.accounts.find_one({"_id": account_id})


# --- /v1 audio_ref: voices enrolled from a reference, reused while they are kept ---------------------------------

def _reference_voice_id(account_id: str, digest: str) -> str:
    return f"{account_id}:{digest}"


def find_reference_voice(db: Database, account_id: str, digest: str, now: datetime) -> Mapping[str, Any] | None:
    """The voice (``engineVoice``, ``profile``) enrolled from the recording whose sha256 is ``digest`` for this
    account, unless it has expired (checked here too: the TTL monitor may be a minute late)."""
    return db.reference_voices.find_one({"_id": _reference_voice_id(account_id, digest), "expiresAt": {"$gt": now}})


def save_reference_voice(db: Database, account_id: str, digest: str, engine_voice: str, profile: Any,
                         now: datetime, expires_at: datetime) -> None:
    """Keep an enrolled reference's voice for the account until ``expires_at`` (the latest enrolment wins)."""
    db.reference_voices.replace_one(
        {"_id": _reference_voice_id(account_id, digest)},
        {"accountId": account_id, "sha256": digest, "engineVoice": engine_voice, "profile": profile,
         "createdAt": now, "expiresAt": expires_at},
        upsert=True)


# --- voices: clone job views and the voice list ----------------------------------------------------------------------

VOICE_SORT_FIELDS = ("createdAt", "updatedAt", "title", "duration", "popularity")
LISTED_VOICE_STATUSES = ("PROCESSING", "COMPLETED", "FAILED")


def ensure_voice_list_indexes(db: Database) -> None:
    """One index per sort field, each serving every filter of GET /api/v1/voices without an in-memory sort: the
    caller's USER voices are (accountId, "USER", status), public SYSTEM voices (null, "SYSTEM", status), each
    then in sort order (see :func:`voice_list_query`)."""
    for field in VOICE_SORT_FIELDS:
        db.voices.create_index(
            [("accountId", ASCENDING), ("type", ASCENDING), ("status", ASCENDING), (field, ASCENDING),
             ("_id", ASCENDING)],
            name=f"voices_list_by_{field}",
        )


def apply_voice_transition(
    db: Database, voice_id: str, target_state: str, fields: Mapping[str, Any], insert_fields: Mapping[str, Any]
) -> bool:
    """Move a USER voice (the view of its clone job) to ``target_state`` if the job state machine allows it;
    idempotent like :func:`apply_job_transition`. Returns whether anything changed."""
    return _guarded_upsert(
        db.voices,
        voice_id,
        {"state": {"$in": jobs.states_before(target_state)}},
        {**fields, "state": target_state, "status": jobs.voice_status(target_state)},
        insert_fields,
    )


def find_voice_state(db: Database, voice_id: str) -> str | None:
    doc = db.voices.find_one({"_id": voice_id}, {"state": 1})
    return doc.get("state") if doc else None


def voice_list_query(account_id: str, status: str | None = None, voice_type: str | None = None) -> dict[str, Any]:
    """The caller's USER voices plus the public SYSTEM voices, optionally narrowed by status and type (pure).

    Written as an $or of equality branches, one per (owner, status): MongoDB then reads each branch from
    ``voices_list_by_<sortField>`` already in order and merges them (SORT_MERGE), never sorting in memory; an $in
    on status inside a branch, or a null owner with an $in, would make it sort the whole result instead.
    """
    statuses = [status] if status else list(LISTED_VOICE_STATUSES)
    owners = []
    if voice_type in (None, "USER"):
        owners.append({"accountId": account_id, "type": "USER"})
    if voice_type in (None, "SYSTEM"):
        owners.append({"accountId": None, "type": "SYSTEM", "isPublic": True})
    branches = [{**owner, "status": value} for owner in owners for value in statuses]
    return branches[0] if len(branches) == 1 else {"$or": branches}


def list_voices(db: Database, account_id: str, *, status: str | None, voice_type: str | None, sort_by: str,
                descending: bool, skip: int, limit: int) -> tuple[list[Mapping[str, Any]], int]:
    """One page of voices and the total count. Ties are broken by _id, so pages never overlap."""
    if sort_by not in VOICE_SORT_FIELDS:
        raise ValueError(f"cannot sort voices by {sort_by!r}")
    query = voice_list_query(account_id, status, voice_type)
    direction = DESCENDING if descending else ASCENDING
    projection = {"usedByJobs": 0, "profile": 0}
    total = db.voices.count_documents(query)
    if skip >= total:
        return [], total
    cursor = db.voices.find(query, projection).sort([(sort_by, direction), ("_id", direction)]).skip(skip).limit(limit)
    return list(cursor), total


def stream_progress(db: Database, consumer: str, partition: int) -> int | None:
    """The last input offset a stream consumer recorded as handled on a partition (a lower bound)."""
    doc = db.stream_progress.find_one({"_id": f"{consumer}:{partition}"})
    return None if doc is None else doc["offset"]


def save_stream_progress(db: Database, consumer: str, partition: int, offset: int) -> None:
    db.stream_progress.update_one({"_id": f"{consumer}:{partition}"}, {"$max": {"offset": offset}}, upsert=True)


class MongoStore:
    """The service layer's ``Store`` port over one database: each method is the module function of its name."""

    def __init__(self, db: Database):
        self.db = db

    def find_account(self, account_id: str) -> Mapping[str, Any] | None:
        return find_account(self.db, account_id)

    def upsert_account(self, account_id: str, name: str, now: datetime) -> None:
        upsert_account(self.db, account_id, name, now)

    def insert_api_key(self, key_id: str, account_id: str, key_hash: str, prefix: str, now: datetime,
                       name: str | None = None) -> None:
        insert_api_key(self.db, key_id, account_id, key_hash, prefix, now, name)

    def find_active_key(self, key_hash: str) -> Mapping[str, Any] | None:
        return find_active_key(self.db, key_hash)

    def find_api_key(self, key_id: str) -> Mapping[str, Any] | None:
        return find_api_key(self.db, key_id)

    def list_api_keys(self, account_id: str) -> list[dict[str, Any]]:
        return list_api_keys(self.db, account_id)

    def count_active_api_keys(self, account_id: str) -> int:
        return count_active_api_keys(self.db, account_id)

    def revoke_api_key(self, account_id: str | None, key_id: str, now: datetime) -> bool:
        return revoke_api_key(self.db, account_id, key_id, now)

    def find_usable_voice(self, account_id: str, voice_id: str) -> Mapping[str, Any] | None:
        return find_usable_voice(self.db, account_id, voice_id)

    def find_own_voice(self, account_id: str, voice_id: str) -> Mapping[str, Any] | None:
        return find_own_voice(self.db, account_id, voice_id)

    def list_voices(self, account_id: str, *, status: str | None, voice_type: str | None, sort_by: str,
                    descending: bool, skip: int, limit: int) -> tuple[list[Mapping[str, Any]], int]:
        return list_voices(self.db, account_id, status=status, voice_type=voice_type, sort_by=sort_by,
                           descending=descending, skip=skip, limit=limit)

    def apply_voice_transition(self, voice_id: str, target_state: str, fields: Mapping[str, Any],
                               insert_fields: Mapping[str, Any]) -> bool:
        return apply_voice_transition(self.db, voice_id, target_state, fields, insert_fields)

    def update_own_voice(self, account_id: str, voice_id: str,
                         fields: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return update_own_voice(self.db, account_id, voice_id, fields)

    def delete_own_voice(self, account_id: str, voice_id: str, now: datetime) -> bool:
        return delete_own_voice(self.db, account_id, voice_id, now)

    def apply_job_transition(self, job_id: str, target_state: str, fields: Mapping[str, Any],
                             insert_fields: Mapping[str, Any]) -> bool:
        return apply_job_transition(self.db, job_id, target_state, fields, insert_fields)

    def find_speech(self, account_id: str, speech_id: str) -> Mapping[str, Any] | None:
        return find_speech(self.db, account_id, speech_id)

    def find_credit_view(self, account_id: str) -> Mapping[str, Any] | None:
        return find_credit_view(self.db, account_id)

    def find_ledger_entries(self, account_id: str, before_sequence: int | None,
                            limit: int) -> list[dict[str, Any]]:
        return find_ledger_entries(self.db, account_id, before_sequence, limit)

    def find_ledger_entry_by_command(self, account_id: str, command_id: str) -> Mapping[str, Any] | None:
        return find_ledger_entry_by_command(self.db, account_id, command_id)
