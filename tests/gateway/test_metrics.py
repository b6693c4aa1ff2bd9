"""The gateway's `/metrics`: open to a scraper without a key, requests counted by route
template (never by the path sent), jobs and the backlog counted as they happen."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.conftest import Account, store_bars
from tests.gateway.test_backtests import SPEC


def _requests(method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return REGISTRY.get_sample_value("velocitas_http_requests_total", labels) or 0.0


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_answer_without_a_key_and_count_by_route_template(
    client: TestClient, alice: Account
) -> None:
    job_id = uuid.uuid4()
    before_401 = _requests("GET", "/backtests/{job_id}", 401)
    before_404 = _requests("GET", "/backtests/{job_id}", 404)
    before_unmatched = _requests("GET", "unmatched", 404)

    assert client.get(f"/backtests/{job_id}").status_code == 401  # answered before routing
    assert client.get(f"/backtests/{job_id}", headers=alice.headers).status_code == 404
    assert client.get(f"/no/such/{job_id}", headers=alice.headers).status_code == 404

    assert _requests("GET", "/backtests/{job_id}", 401) == before_401 + 1
    assert _requests("GET", "/backtests/{job_id}", 404) == before_404 + 1
    assert _requests("GET", "unmatched", 404) == before_unmatched + 1
    samples = _samples(client)  # no key: a scraper has none
    assert not any(str(job_id) in value for _, labels in samples for _, value in labels)
    timed = ("velocitas_http_request_duration_seconds_count",)
    assert any(
        name in timed and ("route", "/backtests/{job_id}") in labels for name, labels in samples
    )


def test_metrics_count_created_jobs_and_read_the_backlog(
    client: TestClient, alice: Account, platform_env: str
) -> None:
    created = {"kind": "backtest"}
    before = REGISTRY.get_sample_value("velocitas_jobs_created_total", created) or 0.0
    store_bars()
    accepted = client.post("/backtests", json=SPEC, headers=alice.headers)
    assert accepted.status_code == 202, accepted.text

    assert REGISTRY.get_sample_value("velocitas_jobs_created_total", created) == before + 1
    samples = _samples(client)
    queued = frozenset({("kind", "backtest"), ("status", "queued")})
    assert samples[("velocitas_jobs_unfinished", queued)] == 1  # no worker runs in this test
    assert samples[("velocitas_jobs_oldest_unfinished_age_seconds", queued)] >= 0
    assert samples[("velocitas_queue_messages", frozenset({("queue", platform_env)}))] == 1
    assert samples[("velocitas_db_pool_connections_max", frozenset())] > 0
