import itertools

import pytest

from schemas import jobs
from schemas import messages as msg

HAPPY_PATH = [jobs.JOB_REQUESTED, msg.JobAccepted.WIRE_NAME, msg.JobStarted.WIRE_NAME, msg.JobCompleted.WIRE_NAME]


def fold(names):
    state = None
    for name in names:
        state = jobs.next_state(state, name) or state
    return state


def test_happy_path_ends_completed():
    assert fold(HAPPY_PATH) == jobs.COMPLETED


def test_terminal_states_never_move():
    for terminal in jobs.TERMINAL:
        for name in jobs.TARGET_STATE:
            assert jobs.next_state(terminal, name) is None


def test_redelivered_and_reordered_events_cannot_go_backwards():
    # Any order of the happy path's events ends in COMPLETED once COMPLETED has been seen.
    for order in itertools.permutations(HAPPY_PATH):
        assert fold(order) == jobs.COMPLETED
    assert fold([msg.JobAccepted.WIRE_NAME, msg.JobFailed.WIRE_NAME, msg.JobStarted.WIRE_NAME,
                 msg.JobCompleted.WIRE_NAME]) == jobs.FAILED


@pytest.mark.parametrize("state,public", [(jobs.PENDING_CREDITS, "PROCESSING"), (jobs.QUEUED, "PROCESSING"),
                                          (jobs.PROCESSING, "PROCESSING"), (jobs.COMPLETED, "COMPLETED"),
                                          (jobs.FAILED, "FAILED"), (jobs.REJECTED, "FAILED")])
def test_public_status(state, public):
    assert jobs.public_status(state) == public


def test_states_before_matches_transition_table():
    for target in (jobs.QUEUED, jobs.PROCESSING, jobs.COMPLETED, jobs.FAILED):
        for state in jobs.states_before(target):
            assert jobs.can_transition(state, target)
