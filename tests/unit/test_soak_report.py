"""The soak run's report logic (bench/soak.py): answers summarised, jobs tallied, credits checked against the
ledger's entries, RSS growth bounded. Pure functions, no services."""
from __future__ import annotations

from bench.soak import Answer, check_credits, rss_findings, summarise, tally_jobs, workers_settled

OK = frozenset({(200, None), (202, None)})
INVALID = frozenset({(400, "INVALID_PARAMETERS")})


def test_summary_counts_statuses_codes_5xx_and_unexpected_answers():
    answers = [Answer("tts", 200, None, 0.010, OK), Answer("tts", 202, None, 0.030, OK),
               Answer("tts", 500, "INTERNAL_ERROR", 0.020, OK),
               Answer("bad", 400, "INVALID_PARAMETERS", 0.001, INVALID),
               Answer("bad", 404, "NOT_FOUND", 0.002, INVALID),
               Answer("read", 0, "ConnectionError", 1.0, frozenset({(200, None)}))]
    summary = summarise(answers)
    assert summary["requests"] == 6 and summary["answered"] == 5
    assert summary["by_status"] == {0: 1, 200: 1, 202: 1, 400: 1, 404: 1, 500: 1}
    assert summary["by_code"] == {"0 ConnectionError": 1, "400 INVALID_PARAMETERS": 1, "404 NOT_FOUND": 1,
                                  "500 INTERNAL_ERROR": 1}
    assert summary["server_errors"] == 1
    assert summary["unexpected"] == {"bad -> 404 NOT_FOUND": 1, "read -> 0 ConnectionError": 1,
                                     "tts -> 500 INTERNAL_ERROR": 1}
    assert summary["latency"]["tts"]["n"] == 3
    assert summary["latency"]["tts"]["median_ms"] == 20.0 and summary["latency"]["tts"]["max_ms"] == 30.0


def test_an_expected_code_must_match_and_a_none_code_accepts_any():
    assert Answer("x", 409, "JOB_NOT_READY", 0, frozenset({(409, "JOB_NOT_READY")})).as_expected
    assert not Answer("x", 409, "JOB_FAILED", 0, frozenset({(409, "JOB_NOT_READY")})).as_expected
    assert Answer("x", 200, None, 0, OK).as_expected
    assert not Answer("x", 429, "RATE_LIMITED", 0, OK).as_expected


def test_jobs_tally_counts_unended_and_unknown_as_stuck():
    assert tally_jobs({"a": "COMPLETED", "b": "FAILED", "c": "REJECTED", "d": "PROCESSING", "e": None}) == {
        "completed": 1, "failed": 2, "stuck": 2}


def entry(kind: str, job: str, amount: int) -> dict:
    return {"type": kind, "jobId": job, "amount": amount}


def test_credits_add_up_when_completed_jobs_capture_their_price_and_failed_ones_release():
    entries = [entry("grant", None, 5000), entry("reservation", "a", 12), entry("capture", "a", 12),
               entry("reservation", "b", 1000), entry("release", "b", 1000), entry("refusal", "c", 99)]
    totals, findings = check_credits({"a": 12, "b": 1000, "c": 99}, {"a": "COMPLETED", "b": "FAILED",
                                                                       "c": "REJECTED"}, entries)
    assert findings == []
    assert totals == {"expected": 12, "charged": 12, "released": 1000, "reserved": 1012}


def test_credit_findings_name_each_wrong_charge():
    entries = [entry("reservation", "twice", 5), entry("capture", "twice", 5), entry("capture", "twice", 5),
               entry("reservation", "wrong", 5), entry("capture", "wrong", 4),
               entry("reservation", "kept", 7), entry("capture", "kept", 7),
               entry("reservation", "stuck", 3), entry("capture", "stuck", 3),
               entry("reservation", "stranger", 1)]
    prices = {"twice": 5, "wrong": 5, "kept": 7, "stuck": 3, "uncharged": 9}
    states = {"twice": "COMPLETED", "wrong": "COMPLETED", "kept": "FAILED", "stuck": "PROCESSING",
              "uncharged": "COMPLETED"}
    totals, findings = check_credits(prices, states, entries)
    kinds = sorted(line.split(" (")[0] for line in findings)
    assert kinds == ["completed job twice", "completed job uncharged", "completed job wrong", "failed job kept",
                     "ledger entries for a job the run did not make: stranger", "unfinished job stuck"], findings
    assert totals["expected"] == 5 + 5 + 9 and totals["charged"] == 10 + 4 + 7 + 3


def test_rss_growth_past_the_bound_is_a_finding():
    start = {"kafka": 400.0, "redis": 8.0, "worker0": 150.0}
    end = {"kafka": 564.0, "redis": 80.0}  # kafka: exactly at 400 x 1.25 + 64
    assert rss_findings(start, end, ratio=1.25, slack_mib=64) == ["redis: 8 MiB -> 80 MiB (bound 74 MiB)",
                                                                  "worker0: no process at the end"]
    assert rss_findings({"triton": 1000.0}, {"triton": 1400.0}, ratio=1.25, slack_mib=64) == [
        "triton: 1000 MiB -> 1400 MiB (bound 1314 MiB)"]


def joined(generation: int) -> str:
    return f"[INFO] Joined group 'soak-workers' (generation {generation}) with member_id faust-1\n"


READY = "[INFO] [^---Recovery]: Worker ready\n"


def test_workers_are_settled_once_all_recovered_in_the_same_newest_generation():
    assert workers_settled([joined(1) + READY + joined(2) + READY, joined(2) + READY])
    assert not workers_settled([joined(1) + READY, joined(2) + READY])  # the first has not rejoined yet
    assert not workers_settled([joined(1) + READY + joined(2), joined(2) + READY])  # still recovering
    assert not workers_settled(["starting\n", joined(1) + READY])
    assert not workers_settled([])
