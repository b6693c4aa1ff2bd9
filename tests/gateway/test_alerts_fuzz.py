"""Schemathesis against the `/alerts` routes: generated requests never get a 5xx, and every
answer matches the documented schema (see `test_openapi_fuzz.py` for the checks)."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from gateway.main import create_app
from tests.gateway.conftest import Account, store_bars
from tests.gateway.test_openapi_fuzz import CHECKS


@pytest.mark.slow
def test_alerts_generated_requests_get_no_server_error(platform_env: str, alice: Account) -> None:
    store_bars(n=50)
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/alerts"):
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call(headers=alice.headers)
            assert response.status_code < 500, (case.method, case.path, response.text)
            case.validate_response(response, checks=CHECKS)

        check()
        checked.append(f"{operation.method.upper()} {operation.path}")
    assert "POST /alerts/rules" in checked
    assert "POST /alerts/{alert_id}/ack" in checked
