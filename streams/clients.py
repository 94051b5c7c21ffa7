"""The worker's clients of the outside services, built once per worker process when it starts, never at import.

One MongoDB client, one S3 client and one Triton client serve every agent of the worker. `python -m streams
worker` builds them before Faust starts (`start`); any other entry point builds them on first use (`get`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from adapters import mongo
from adapters.blobstore import BlobStore
from adapters.mongo import Database
from inference_client import InferenceClient
from service_config import Settings


@dataclass
class Clients:
    settings: Settings
    db: Database
    blobs: BlobStore
    _inference: InferenceClient | None = field(default=None, repr=False)

    def inference(self) -> InferenceClient:
        if self._inference is None:  # made on first use, inside the worker's event loop
            self._inference = InferenceClient.from_settings(self.settings)
        return self._inference


_lock = threading.Lock()
_clients: Clients | None = None


def start(settings: Settings) -> Clients:
    """Build the clients (once; a second call returns the same)."""
    global _clients
    with _lock:
        if _clients is None:
            _clients = Clients(settings=settings, db=mongo.connect(settings), blobs=BlobStore(settings))
        return _clients


def get() -> Clients:
    if _clients is not None:
        return _clients
    from .app import settings  # deferred: importing this module must not configure the app

    return start(settings)
