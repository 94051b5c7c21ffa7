"""GET /api/v1/credits (the seed's shape, from the projection) and GET /api/v1/credits/history (cursor-paginated
usage: grants, reservations, captures, releases, refusals), on the real stack."""
from __future__ import annotations

import re

import pytest
import requests

from .conftest import error_body, wait_for
from .ledger_helpers import auth, credit_view, new_account, wait_audit_clean

pytestmark = pytest.mark.integration

ISO_MILLIS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _tts(base_url: str, key: str, text: str) -> requests.Response:
    return requests.post(f"{base_url}/api/v1/tts", headers=auth(key), json={"text": text, "voiceId": "sys_slt",
                                                                             "format": "pcm"}, timeout=30)


def _all_pages(base_url: str, key: str, limit: int) -> tuple[list[dict], int]:
    items, cursor, pages = [], None, 0
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        resp = requests.get(f"{base_url}/api/v1/credits/history", headers=auth(key), params=params, timeout=10)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["success"] is True and len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            return items, pages


def test_credits_answer_in_the_seed_shape(base_url, app_processes):
    account = new_account(base_url, credits=300)
    body = requests.get(f"{base_url}/api/v1/credits", headers=auth(account.api_key), timeout=10).json()
    assert set(body) == {"success", "credits", "breakdown"} and body["success"] is True
    assert body["credits"] == 300 and set(body["breakdown"]) == {"regular", "permanent", "resetAt"}
    assert (body["breakdown"]["regular"], body["breakdown"]["permanent"]) == (300, 0)
    assert ISO_MILLIS.match(body["breakdown"]["resetAt"])


def test_usage_history_pages_through_every_ledger_entry_newest_first(base_url, app_processes):
    from frontdoor import admin

    account = new_account(base_url, credits=30)
    texts = ["Hello there.", "One more line."]  # 12 and 14 credits
    accepted = [_tts(base_url, account.api_key, text) for text in texts]
    assert [r.status_code for r in accepted] == [200, 200], [r.text for r in accepted]
    refused = _tts(base_url, account.api_key, "This one is too long for what is left.")
    assert refused.status_code == 429
    wait_for(lambda: (credit_view(account.account_id) or {}).get("reserved") == 0, 60, "both jobs to be charged")
    assert admin.grant(account.account_id, 7, "permanent", "goodwill", wait_s=20).entry is not None

    items, pages = _all_pages(base_url, account.api_key, limit=2)
    assert pages == 4
    assert [i["type"] for i in items][:1] == ["grant"] and items[-1]["type"] == "grant"
    assert sorted(i["type"] for i in items) == sorted(
        ["grant", "reservation", "reservation", "refusal", "capture", "capture", "grant"])
    assert items[0]["amount"] == 7 and items[0]["creditKind"] == "permanent" and items[0]["reason"] == "goodwill"
    assert items[-1]["amount"] == 30 and items[-1]["creditKind"] == "regular"
    jobs = {r.json()["speechId"]: len(t.encode()) for r, t in zip(accepted, texts, strict=True)}
    for kind in ("reservation", "capture"):
        assert {i["jobId"]: i["amount"] for i in items if i["type"] == kind} == jobs
    assert next(i for i in items if i["type"] == "refusal")["balanceAfter"]["credits"] == 4
    assert items[0]["balanceAfter"] == {"credits": 11, "regular": 4, "permanent": 7, "reserved": 0}
    assert all(ISO_MILLIS.match(i["at"]) for i in items)
    assert len({i["id"] for i in items}) == len(items)

    # Another tenant sees none of it.
    other = new_account(base_url, credits=1)
    theirs, _ = _all_pages(base_url, other.api_key, limit=50)
    assert [i["type"] for i in theirs] == ["grant"] and not {i["id"] for i in theirs} & {i["id"] for i in items}
    wait_audit_clean(account.account_id)


@pytest.mark.parametrize("query", ["cursor=nope", "cursor=aDE6MA", "limit=0", "limit=101", "limit=ten"])
def test_bad_paging_parameters_are_invalid_parameters(base_url, query, app_processes):
    account = _shared_account(base_url)
    resp = requests.get(f"{base_url}/api/v1/credits/history?{query}", headers=auth(account.api_key), timeout=10)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "INVALID_PARAMETERS" and resp.json()["error"]


def test_history_needs_a_key(base_url, app_processes):
    resp = requests.get(f"{base_url}/api/v1/credits/history", timeout=10)
    assert resp.status_code == 401 and error_body(resp) == {"code": "UNAUTHORIZED", "error": "Authentication required"}


_shared: dict = {}


def _shared_account(base_url: str):
    if "account" not in _shared:
        _shared["account"] = new_account(base_url, credits=1)
    return _shared["account"]
