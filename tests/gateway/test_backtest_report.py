"""`GET /backtests/{id}/report.html`: the worker's self-contained HTML report, owner-only,
gzip when the client takes it; and the worker storing it on a real worker process."""

from __future__ import annotations

import gzip
import re
import uuid

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import Account, store_bars
from tests.gateway.test_backtests import SPEC
from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.db.models import BacktestReport
from velocitas.db.reports import store_report
from velocitas.domain.events import JobKind

PAGE = "<!DOCTYPE html>\n<html><title>Backtest: sma_cross on BTCUSDT (1h)</title>é</html>\n"


def _job(owner: Account, *, report: str | None = PAGE, succeeded: bool = True) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner.id, kind=JobKind.BACKTEST, spec=SPEC)
        if succeeded:
            job_store.mark_running(session, job.id)
            job_store.record_result(session, job.id, summary={"trade_count": 0})
        if report is not None:
            page = report.encode()
            store_report(session, job.id, gzip.compress(page, mtime=0), len(page))
        return job.id


def test_read_backtest_report_is_an_html_attachment_gzip_when_accepted(
    client: TestClient, alice: Account
) -> None:
    job_id = _job(alice)
    url = f"/backtests/{job_id}/report.html"
    with client.stream("GET", url, headers={**alice.headers, "Accept-Encoding": "gzip"}) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-disposition"] == f'attachment; filename="backtest-{job_id}.html"'
    assert gzip.decompress(raw).decode() == PAGE

    plain = client.get(url, headers={**alice.headers, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-disposition"] == f'attachment; filename="backtest-{job_id}.html"'
    assert plain.text == PAGE
    refused = client.get(url, headers={**alice.headers, "Accept-Encoding": "gzip;q=0, br"})
    assert "content-encoding" not in refused.headers
    assert refused.content == PAGE.encode()


def test_read_backtest_report_of_another_user_is_404(
    client: TestClient, alice: Account, bob: Account
) -> None:
    job_id = _job(alice)
    assert client.get(f"/backtests/{job_id}/report.html", headers=bob.headers).status_code == 404
    unknown = client.get(f"/backtests/{uuid.uuid4()}/report.html", headers=alice.headers)
    assert unknown.status_code == 404


def test_read_backtest_report_before_success_is_404_saying_so(
    client: TestClient, alice: Account
) -> None:
    job_id = _job(alice, report=None, succeeded=False)
    answer = client.get(f"/backtests/{job_id}/report.html", headers=alice.headers)
    assert answer.status_code == 404
    assert "it is queued, not succeeded" in answer.json()["detail"]
    without = _job(alice, report=None)
    answer = client.get(f"/backtests/{without}/report.html", headers=alice.headers)
    assert answer.status_code == 404
    assert "has no HTML report" in answer.json()["detail"]


@pytest.mark.slow
@pytest.mark.worker_processes
def test_worker_stores_the_report_the_route_serves(
    client: TestClient, alice: Account, workers: WorkerProcess
) -> None:
    store_bars(n=300)
    workers.start()
    spec = {**SPEC, "end": "2024-01-12T00:00:00Z"}
    spec["strategy"] = {"name": "sma_cross", "params": {"fast": 2, "slow": 5}}  # trades often
    job_id = client.post("/backtests", json=spec, headers=alice.headers).json()["id"]

    def finished() -> dict[str, object] | None:
        job = client.get(f"/backtests/{job_id}", headers=alice.headers).json()
        return job if job["status"] in ("succeeded", "failed", "cancelled") else None

    job = wait_until(finished, timeout=120)
    assert job["status"] == "succeeded", job["error"]
    trade_count = job["summary"]["trade_count"]
    assert trade_count > 0
    with session_scope() as session:
        stored = session.get(BacktestReport, uuid.UUID(job_id))
        assert stored is not None
        assert stored.size == len(gzip.decompress(stored.html_gzip))
    page = client.get(f"/backtests/{job_id}/report.html", headers=alice.headers).text
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Backtest: sma_cross on BTCUSDT (1h)</title>" in page
    assert re.search(rf"<h2>Trades \({trade_count:,}\)</h2>", page)
    assert "Plotly.newPlot(" in page  # the charts, with plotly.js inlined (no CDN)
