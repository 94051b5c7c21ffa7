"""The one sequence every paid request follows: reserve → publish → write the view → wait for the ledger.

The front door publishes ReserveCreditsForJob (the job rides along) and waits briefly for the ledger's decision,
correlated by job id. Refused: :class:`InsufficientCredits`. No decision in time: the request is safely queued
and the caller says so (HTTP 202) rather than guess.
"""
from __future__ import annotations

from collections.abc import Callable

from schemas import events as ev
from schemas import messages as msg

from .errors import InsufficientCredits, ServiceUnavailable
from .ports import Ports, Unavailable

QUEUE_DOWN = "The request queue is unavailable; nothing was charged. Retry shortly."


def reserve_command(job: msg.Job) -> msg.ReserveCreditsForJob:
    """ReserveCreditsForJob for ``job``: its id, account and price (``credits_used``) come from the job."""
    return msg.ReserveCreditsForJob.for_job(job)


def refusal(decision: ev.Event | None, price: int) -> InsufficientCredits | None:
    """The error a ledger decision means (pure): a JobRejected is a refusal; JobAccepted or none is not."""
    if decision is None or decision.name != msg.JobRejected.WIRE_NAME:
        return None
    try:
        rejected = msg.decode(decision)
    except msg.MessageDecodeError:  # refused all the same; the numbers are unknown
        return InsufficientCredits(credits=0, need_credits=price)
    assert isinstance(rejected, msg.JobRejected)
    return InsufficientCredits(credits=rejected.credits, need_credits=rejected.need_credits)


def _nothing() -> None:
    return None


def submit_paid_job(ports: Ports, job: msg.Job, write_view: Callable[[], None], *,
                    on_unpublished: Callable[[], None] = _nothing,
                    on_refused: Callable[[], None] = _nothing) -> bool:
    """Reserve ``job``'s price and queue it; returns whether the ledger's acceptance arrived in time.

    ``write_view`` records the request in its job view once it is published (the guarded write the projector
    uses, so it never overwrites a later state). ``on_unpublished`` / ``on_refused`` undo what the caller did
    before (e.g. an uploaded reference). Raises :class:`ServiceUnavailable` when the queue is down (nothing
    charged) and :class:`InsufficientCredits` when the ledger refused.
    """
    wait_for_decision = ports.replies.expect(job.job_id)  # before publishing: no reply can slip past
    try:
        command = reserve_command(job)
        ports.publisher.publish(command.TOPIC, command.key(), command.envelope())
    except Unavailable as exc:
        wait_for_decision(0)
        on_unpublished()
        raise ServiceUnavailable(QUEUE_DOWN) from exc
    write_view()
    decision = wait_for_decision(ports.reply_timeout_s)
    refused = refusal(decision, job.credits_used)
    if refused is not None:
        on_refused()
        raise refused
    return decision is not None
