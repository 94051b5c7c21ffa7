"""The job sweeper: every JOB_SWEEP_INTERVAL_S, fails the jobs still unfinished JOB_DEADLINE_S after they were
requested and releases their price through the ledger (streams/sweeper_logic.py says why this is always safe).

Each worker sweeps the accounts of the requests-topic partitions it owns, so one job is normally settled by one
worker; a second settlement (a rebalance, a later tick before the projector caught up) repeats the same envelope
ids and decides nothing new.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from adapters import mongo
from schemas import events as ev

from . import clients
from .app import app, send, settings
from .ledger_timer import owned_partitions
from .sweeper_logic import stuck_settlement
from .timer_logic import partition_of

log = logging.getLogger(__name__)

BATCH = 500  # views per tick; a longer backlog is worked off over the next ticks


async def sweep_stuck_jobs(deadline_s: float = settings.job_deadline_s) -> list[str]:
    """One sweep over the owned accounts; returns the ids of the jobs it failed."""
    owned = owned_partitions()
    if not owned:
        return []
    now = ev.utc_now()
    views = await asyncio.to_thread(mongo.find_unfinished_jobs, clients.get().db,
                                    now - timedelta(seconds=deadline_s), BATCH)
    swept = []
    for view in views:
        if partition_of(str(view.get("accountId", "")).encode(), settings.kafka_partitions) not in owned:
            continue
        settlement = stuck_settlement(view, now, deadline_s)
        for message, envelope in settlement:
            await send(message, envelope)
        if settlement:
            log.warning("job %s of %s was stuck in %s past %.0f s: failed and released", view["_id"],
                        view.get("accountId"), view.get("state"), deadline_s)
            swept.append(str(view["_id"]))
    return swept


@app.timer(interval=settings.job_sweep_interval_s)
async def job_sweeper() -> None:
    await sweep_stuck_jobs()
