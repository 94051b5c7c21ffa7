"""200 concurrent paid requests against credits for 100, through the real front door, broker and ledger agent."""
from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

import ledger

from .conftest import error_body, wait_for
from .ledger_helpers import auth, credit_view, ledger_events, new_account, wait_audit_clean

pytestmark = pytest.mark.integration


def test_200_concurrent_reservations_against_100_credits_accept_exactly_100(base_url, app_processes):
    account = new_account(base_url, credits=100)
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=50))

    def post(_n: int) -> requests.Response:
        # "x" costs 1 credit (1 UTF-8 byte).
        return session.post(f"{base_url}/api/v1/tts", headers=auth(account.api_key),
                            json={"text": "x", "voiceId": "sys_slt", "format": "pcm"}, timeout=60)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(post, range(200)))

    assert Counter(a.status_code for a in answers) == {200: 100, 429: 100}, [a.text for a in answers[:3]]
    for refused in (a for a in answers if a.status_code == 429):
        assert error_body(refused) == {"code": "USAGE_LIMIT_EXCEEDED", "error": "Insufficient credits",
                                  "credits": 0, "needCredits": 1}
    accepted = {a.json()["speechId"] for a in answers if a.status_code == 200}
    assert all(a.json()["creditsUsed"] == 1 for a in answers if a.status_code == 200)

    # The ledger holds one decision per request, and the accepted jobs are charged as they complete.
    events = ledger_events(account.account_id)
    reserved = {e.job_id for e in events if isinstance(e, ledger.CreditsReserved)}
    refused = {e.job_id for e in events if isinstance(e, ledger.ReservationRefused)}
    assert reserved == accepted and len(refused) == 100 and not reserved & refused
    wait_for(lambda: (credit_view(account.account_id) or {}).get("reserved") == 0, 90,
             "every accepted job to end (captured or released)")
    view = credit_view(account.account_id)
    distinct = {e.event_id: e for e in ledger_events(account.account_id)}.values()
    ended = Counter(type(e).__name__ for e in distinct
                    if isinstance(e, (ledger.ReservationCaptured, ledger.ReservationReleased)))
    assert sum(ended.values()) == 100  # each accepted job ended exactly once
    assert view["credits"] == ended["ReservationReleased"]  # captured credits are spent, released come back
    assert view["credits"] >= 0
    wait_audit_clean(account.account_id)
