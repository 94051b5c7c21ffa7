"""`python -m streams worker`: run every agent in one Faust worker process."""
from __future__ import annotations

import sys

from adapters import kafka
from service_config import log_context

from . import (  # noqa: F401  (registers the agents)
    catch_up,
    clients,
    ledger_agent,
    ledger_timer,
    notifier,
    orchestrator,
    projector,
    sweeper,
    webhooks,
)
from .app import app, settings


def main() -> None:
    if len(sys.argv) == 1:
        sys.argv.append("worker")
    if sys.argv[1] == "worker" and not any(a.startswith("-l") or a.startswith("--loglevel") for a in sys.argv):
        sys.argv += ["-l", "info"]
    if sys.argv[1] == "worker":
        # Faust only subscribes to topics that exist when it joins its group (a topic created later is seen only
        # at the next metadata refresh, minutes away): create them first.
        kafka.ensure_topics(settings)
        app.conf.datadir.parent.mkdir(parents=True, exist_ok=True)   # Faust makes only the last level
        clients.start(settings)  # one MongoDB, S3 and Triton client for every agent of this worker
        log_context.prefix_log_records()  # a job's log lines carry its request id
    app.main()


if __name__ == "__main__":
    main()
