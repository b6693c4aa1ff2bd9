"""Schemathesis against the gateway's own OpenAPI schema: generated requests to every job
operation, the history and the bar upload, authenticated (as a data-writer, so uploads reach the
import path), never get a 5xx, and every answer matches the documented schema."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.main import create_app
from tests.gateway.conftest import Account

# "Schema-valid request rejected" is left out on purpose: a JSON schema cannot say everything the
# validators check (a timeframe's allowed values, bars present in the range), so a 422 for a
# schema-valid body is the API working as documented, not a fault.
# The proxies to the oracle and the analyst answer 503 by design with no service behind them;
# their own tests cover them.
FUZZED_ROUTES = ("/backtests", "/sweeps", "/walk-forwards", "/history", "/bars", "/sessions")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
def test_api_generated_requests_get_no_server_error(platform_env: str, writer: Account) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(FUZZED_ROUTES):
            continue  # other areas' routes are fuzzed by their own tests

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=writer.headers)
            assert response.status_code < 500, (case.method, case.path, response.text)
            case.validate_response(response, checks=CHECKS)

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /backtests" in checked
    assert "DELETE /sweeps/{job_id}" in checked
    assert "POST /sessions/{session_id}/orders" in checked
    assert "POST /walk-forwards" in checked
    assert "GET /history" in checked
    assert "POST /bars" in checked
