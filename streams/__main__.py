"""`python -m streams worker`: run every agent in one Faust worker process."""
from __future__ import annotations

import sys

from . import ledger_agent, ledger_timer, notifier, orchestrator, projector  # noqa: F401  (registers the agents)
from .app import app


def main() -> None:
    if len(sys.argv) == 1:
        sys.argv.append("worker")
    if sys.argv[1] == "worker" and not any(a.startswith("-l") or a.startswith("--loglevel") for a in sys.argv):
        sys.argv += ["-l", "info"]
    app.main()


if __name__ == "__main__":
    main()
