"""Worker log lines carry the request id of the job at hand (service_config/log_context.py)."""
from __future__ import annotations

import logging

from service_config import log_context


def test_lines_inside_a_bound_block_start_with_the_request_id_and_others_do_not(caplog):
    log_context.prefix_log_records()
    log_context.prefix_log_records()  # idempotent: never a double prefix
    log = logging.getLogger("test.log_context")
    with caplog.at_level(logging.INFO, logger="test.log_context"):
        log.info("before")
        with log_context.bound("req_abc"):
            log.info("job %s started", "j1")
        log.info("after")
    assert [r.getMessage() for r in caplog.records] == ["before", "[req_abc] job j1 started", "after"]


def test_no_request_id_no_prefix(caplog):
    log_context.prefix_log_records()
    with caplog.at_level(logging.INFO, logger="test.log_context"), log_context.bound(None):
        logging.getLogger("test.log_context").info("plain")
    assert caplog.records[-1].getMessage() == "plain"
