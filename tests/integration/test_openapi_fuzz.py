"""Property-based fuzz of the OpenAPI document (schemathesis + hypothesis): no input may produce a 5xx, and every
error body has the documented {"code", "error"} shape.

Operations are driven through hypothesis directly (schemathesis' pytest plugin does not support pytest 9 yet).
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def api_schema(base_url, app_processes):
    return schemathesis.openapi.from_url(f"{base_url}/api/openapi.json")


@pytest.fixture(scope="module")
def fuzz_headers(app_processes):
    from frontdoor import admin

    issued = admin.create_account_with_key(name="fuzz", credits=500_000)
    return {"Authorization": f"Bearer {issued.api_key}"}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_input_produces_a_server_error(api_schema, fuzz_headers, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    # Both surfaces come from the one document (bench/fuzz_api.py runs the same at >= 1,000 cases per operation).
    assert {op.path.split("/")[1] for op in operations} >= {"api", "v1"}
    for operation in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            response = case.call(headers=fuzz_headers, timeout=30)
            assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
            if response.status_code >= 400:
                content_type = (response.headers.get("content-type") or [""])[0]
                described = (case.method, case.formatted_path, case.headers, case.query, repr(case.body)[:200],
                             response.status_code, content_type, response.text[:300])
                assert content_type.startswith("application/json"), described
                try:
                    body = json.loads(response.text)
                except ValueError:
                    raise AssertionError(f"error body is not JSON: {described}") from None
                assert isinstance(body.get("code"), str) and isinstance(body.get("error"), str), described

        check()


@pytest.mark.timeout(600)
def test_chains_of_calls_never_produce_a_server_error(api_schema, app_processes):
    """Stateful: ids from one answer feed the next request (a custom voice created, then read, patched, used and
    deleted; a webhook or key created, then listed and deleted), from the links schemathesis infers."""
    import collections

    from bench.fuzz_api import fuzz_stateful
    from frontdoor import admin
    from service_config import load

    issued = admin.create_account_with_key(name="fuzz-stateful", credits=500_000)
    db = admin.prepare(load())

    def new_headers() -> dict[str, str]:
        return {"Authorization": f"Bearer {admin.issue_key(db, issued.account_id)[1]}"}

    statuses: collections.Counter = collections.Counter()
    steps: collections.Counter = collections.Counter()
    fuzz_stateful(api_schema, 25, new_headers, statuses, steps)
    # The chains reached the operations that need an existing resource, not only the roots.
    assert any("{" in step for step in steps), steps
    assert statuses[200] > 0 and not any(code >= 500 for code in statuses), statuses
