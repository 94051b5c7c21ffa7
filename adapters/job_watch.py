"""Wakes requests that wait for a job: one MongoDB change stream per process over the job views.

The speech view (``speeches``) and the voice view (``voices``, a clone job's) are written by the projector as a job
moves on. One daemon thread per process follows their change stream (MongoDB runs as replica set ``rs0``) and
sets the event of every request waiting on the changed id; the request then re-reads its job. Nothing polls the
database while a job is unchanged. If the stream breaks (MongoDB restarting), it is reopened and every waiter is
woken to re-read, so no change is missed; waiters also re-read every ``recheck_s`` as a last resort.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.database import Database
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

JOB_VIEWS = ("speeches", "voices")
_PIPELINE = [
    {"$match": {"ns.coll": {"$in": list(JOB_VIEWS)}, "operationType": {"$in": ["insert", "update", "replace"]}}},
    {"$project": {"documentKey": 1}},
]


class Changes:
    """One waiting request's subscription: ``wait`` returns True when its job changed (or may have)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def wait(self, timeout_s: float) -> bool:
        changed = self._event.wait(max(0.0, timeout_s))
        self._event.clear()
        return changed

    def wake(self) -> None:
        self._event.set()


class JobWatcher:
    def __init__(self, db: Database, max_waiters: int):
        self._db = db
        self.max_waiters = max_waiters  # per process: each waiting request holds a server thread
        self._lock = threading.Lock()
        self._waiting: dict[str, set[Changes]] = {}
        self._count = 0
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()  # the stream is open: changes from now on are seen
        self._stop = threading.Event()

    @property
    def waiting(self) -> int:
        return self._count

    @contextmanager
    def subscribe(self, job_id: str) -> Iterator[Changes | None]:
        """Changes of ``job_id`` while the block runs; None when this process already has ``max_waiters``."""
        changes = Changes()
        with self._lock:
            if self._count >= self.max_waiters:
                changes = None
            else:
                self._count += 1
                self._waiting.setdefault(job_id, set()).add(changes)
                self._start()
        if changes is None:
            yield None
            return
        try:
            self._ready.wait(2.0)  # a stream opened after the caller's next read could miss the change
            yield changes
        finally:
            with self._lock:
                self._count -= 1
                subscribers = self._waiting.get(job_id)
                if subscribers is not None:
                    subscribers.discard(changes)
                    if not subscribers:
                        del self._waiting[job_id]

    def _start(self) -> None:
        # Started on first use, in the serving process (gunicorn forks workers after importing the app).
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._follow, name="job-watch", daemon=True)
            self._thread.start()

    def _wake(self, job_id: str | None) -> None:
        with self._lock:
            targets = [c for s in self._waiting.values() for c in s] if job_id is None \
                else list(self._waiting.get(job_id, ()))
        for changes in targets:
            changes.wake()

    def _follow(self) -> None:
        while not self._stop.is_set():
            try:
                with self._db.watch(_PIPELINE, max_await_time_ms=1000) as stream:
                    self._ready.set()
                    self._wake(None)  # anything may have changed while the stream was closed
                    while not self._stop.is_set() and stream.alive:
                        change = stream.try_next()
                        if change is not None:
                            self._wake(str(change["documentKey"]["_id"]))
            except PyMongoError as exc:
                self._ready.clear()
                log.warning("job change stream broke (%s); reopening in 1 s", exc)
                self._wake(None)
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
