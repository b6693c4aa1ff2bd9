"""The research views in Chromium against a real gateway and a real Celery worker: a backtest
submitted from the generated form finishes on the page without a reload, its report marks
exactly the API's trades and downloads as the self-contained HTML page, and a sweep's heatmap
appears."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway.conftest import store_bars
from tests.support.waiting import wait_until
from tests.web.conftest import PHONE, Account, check_view, sign_in, wider_than_the_screen
from tests.worker.process import WorkerProcess

WAIT_MS = 120_000  # a job on a loaded machine


def _start(workers: WorkerProcess) -> None:
    """A worker, consuming before the page submits anything (it starts slowly under load)."""
    workers.start()
    wait_until(lambda: bool(workers.ready()), 180, "the worker answers a ping")


def _set_range(page: Any, prefix: str) -> None:
    page.locator(f"#{prefix}-start").fill("2024-01-01T00:00")
    page.locator(f"#{prefix}-end").fill("2024-01-09T00:00")


@pytest.mark.slow
@pytest.mark.worker_processes
def test_backtest_runs_live_and_the_report_marks_the_apis_trades(
    page: Any,
    gateway: str,
    make_account: Callable[..., Account],
    workers: WorkerProcess,
) -> None:
    alice = make_account("alice")
    store_bars(n=200)
    _start(workers)
    sign_in(page, alice.key)
    page.get_by_text("No backtests yet").wait_for()
    check_view(page, "backtests-empty")
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page

    page.locator("#bt-strategy").select_option("sma_cross")
    page.locator("#bt-param-fast").fill("3")
    page.locator("#bt-param-slow").fill("12")
    _set_range(page, "bt")
    page.get_by_role("button", name="Run backtest").click()
    finished = page.locator('#backtest-jobs [data-status="succeeded"]')
    finished.wait_for(timeout=WAIT_MS)
    assert page.evaluate("window.__sameDocument") is True
    check_view(page, "backtests")

    job_id = finished.get_attribute("data-job")
    page.locator(f'a[data-job="{job_id}"]').click()
    chart = page.locator('#candles[data-drawn="true"]')
    chart.wait_for()
    page.locator('.chart[data-drawn="true"]').first.wait_for()
    page.locator("#trades tbody tr").first.wait_for()
    headers = {"Authorization": f"Bearer {alice.key}"}
    trades = httpx.get(
        f"{gateway}/backtests/{job_id}/trades", params={"limit": 1000}, headers=headers
    ).json()["items"]
    assert trades, "the strategy traded on this data"
    markers = page.evaluate("JSON.parse(document.getElementById('candles').dataset.markers)")
    expected = sorted(
        [(f"entry-{t['seq']}", t["entry_at"]) for t in trades]
        + [(f"exit-{t['seq']}", t["exit_at"]) for t in trades]
    )
    drawn = sorted(
        (m["id"], page.evaluate(f"new Date({m['time']} * 1000).toISOString()")) for m in markers
    )
    assert [i for i, _ in drawn] == [i for i, _ in expected]
    assert [t.replace(".000Z", "Z") for _, t in drawn] == [t for _, t in expected]
    job = httpx.get(f"{gateway}/backtests/{job_id}", headers=headers).json()
    leg = job["summary"]["breakdown"]["by_leg"]["0"]
    assert leg["net_pnl"] in page.locator("#pnl").inner_text()  # the exact string
    assert page.locator("#final-equity").inner_text() == job["summary"]["final_equity"]
    check_view(page, "backtest-report")
    with page.expect_download() as saved:
        page.get_by_role("button", name="Download HTML report").click()
    report = saved.value
    assert report.suggested_filename == f"backtest-{job_id}.html"
    html = Path(report.path()).read_text(encoding="utf-8")
    assert html.startswith(("<!DOCTYPE html>", "<html"))
    assert f"Trades ({len(trades):,})" in html  # this job's report, every trade counted
    page.set_viewport_size(PHONE)
    assert wider_than_the_screen(page) == []
    check_view(page, "backtest-report-phone")


@pytest.mark.slow
@pytest.mark.worker_processes
def test_sweep_from_the_form_shows_its_ranking_and_heatmap(
    page: Any, make_account: Callable[..., Account], workers: WorkerProcess
) -> None:
    alice = make_account("alice")
    store_bars(n=200)
    _start(workers)
    sign_in(page, alice.key)
    page.get_by_role("link", name="Sweeps").click()
    page.get_by_text("No sweeps yet").wait_for()
    page.locator("#sw-strategy").select_option("sma_cross")
    page.locator("#sw-param-fast").fill("3, 5")
    page.locator("#sw-param-slow").fill("12, 20, 30")
    _set_range(page, "sw")
    page.locator("#sw-objective").select_option("total_return")
    page.get_by_role("button", name="Run sweep").click()
    finished = page.locator('#sweep-jobs [data-status="succeeded"]')
    finished.wait_for(timeout=WAIT_MS)
    check_view(page, "sweeps")
    page.locator(f'a[data-job="{finished.get_attribute("data-job")}"]').click()
    heatmap = page.locator("#heatmap table.heatmap")
    heatmap.wait_for()
    assert heatmap.get_attribute("data-cells") == "6"  # 2 x 3 combinations, each a cell
    assert page.locator("#heatmap tbody tr").count() == 3
    check_view(page, "sweep")


@pytest.mark.slow
@pytest.mark.worker_processes
def test_walk_forward_shows_its_folds_and_the_stitched_curve(
    page: Any, gateway: str, make_account: Callable[..., Account], workers: WorkerProcess
) -> None:
    alice = make_account("alice")
    store_bars(n=200)
    _start(workers)
    sign_in(page, alice.key)
    page.get_by_role("link", name="Walk-forwards").click()
    page.get_by_text("No walk-forwards yet").wait_for()
    page.locator("#wf-strategy").select_option("sma_cross")
    page.locator("#wf-param-fast").fill("3, 5")
    page.locator("#wf-param-slow").fill("12, 20")
    _set_range(page, "wf")
    page.locator("#wf-in").fill("2d")
    page.locator("#wf-out").fill("1d")
    page.get_by_role("button", name="Run walk-forward").click()
    finished = page.locator('#walk_forward-jobs [data-status="succeeded"]')
    finished.wait_for(timeout=WAIT_MS)
    job_id = finished.get_attribute("data-job")
    page.locator(f'a[data-job="{job_id}"]').click()
    curve = page.locator('.chart[data-drawn="true"]')
    curve.wait_for()
    headers = {"Authorization": f"Bearer {alice.key}"}
    job = httpx.get(f"{gateway}/walk-forwards/{job_id}", headers=headers).json()
    folds = page.get_by_role("region", name="Folds").locator("tbody tr")
    assert folds.count() == len(job["summary"]["folds"]) > 0
    total = httpx.get(f"{gateway}/walk-forwards/{job_id}/equity/display", headers=headers).json()[
        "total"
    ]
    assert curve.get_attribute("data-total") == str(total)
    check_view(page, "walk-forward")
