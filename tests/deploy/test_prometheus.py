"""The monitoring configuration, proven with real parts: Debian's `promtool` checks the committed
Prometheus config and rules, and a real `prometheus` scraping `velocitas up` sees the counters
move while jobs run, and evaluates every recording rule, alert rule and dashboard query."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.gateway.conftest import store_bars
from tests.gateway.test_backtests import SPEC
from tests.support.ports import free_port
from tests.support.processes import (
    REPO,
    python_env,
    running,
    start_process,
    stop_processes,
    wait_for_http,
)
from tests.support.waiting import wait_until
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope

CONFIG = REPO / "deploy" / "prometheus" / "prometheus.yml"
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
DASHBOARDS = sorted((REPO / "deploy" / "grafana" / "dashboards").glob("*.json"))
JOBS = ("gateway", "oracle", "analyst", "worker", "trader")


def _tool(name: str) -> str:
    """The tool's path; fails (never skips) when Debian's `prometheus` package is missing."""
    found = shutil.which(name) or (
        f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None
    )
    if found is None:
        pytest.fail(
            f"`{name}` is not installed: install Debian's package `prometheus` "
            "(apt-get install prometheus; scripts/test does when run as root)"
        )
    return found


def _rules(kind: str) -> list[dict[str, Any]]:
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if kind in rule
    ]


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, PromQL) for every query of every committed dashboard, with
    Grafana's `$__rate_interval` as Grafana would fill it for a short range."""
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$__rate_interval", "1m")
                found.append((path.name, panel["title"], expr))
    return found


def test_promtool_accepts_the_committed_config_and_rules() -> None:
    promtool = _tool("promtool")
    config = subprocess.run(
        [promtool, "check", "config", str(CONFIG)], capture_output=True, text=True, check=False
    )
    assert config.returncode == 0, config.stdout + config.stderr
    rules = subprocess.run(
        [promtool, "check", "rules", *map(str, RULES)], capture_output=True, text=True, check=False
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_every_alert_has_its_section_in_the_operators_guide() -> None:
    guide = (REPO / "docs" / "monitoring.md").read_text()
    alerts = [rule["alert"] for rule in _rules("alert")]
    assert alerts
    for alert in alerts:
        assert f"### {alert}\n" in guide, f"docs/monitoring.md has no section for {alert}"


def test_every_recorded_series_is_read_by_a_dashboard_or_an_alert() -> None:
    recorded = {rule["record"] for rule in _rules("record")}
    queries = panel_queries()
    assert len(queries) > 20
    used = {name for name in recorded if any(name in expr for _, _, expr in queries)}
    # Each recorded quantile or ratio is on a dashboard (or read by an alert).
    alerts = " ".join(rule["expr"] for rule in _rules("alert"))
    assert recorded - used - {name for name in recorded if name in alerts} == set()


def _scrape_config(ports: dict[str, int], rules: list[Path]) -> dict[str, Any]:
    """The committed config's jobs and rules, with each service at its `velocitas up` port."""
    shipped = yaml.safe_load(CONFIG.read_text())
    shipped_jobs = {job["job_name"] for job in shipped["scrape_configs"]}
    assert shipped_jobs >= set(JOBS)
    return {
        # A scrape of the gateway reads PostgreSQL and Redis: on a busy machine it may take a
        # second, and a failed scrape marks every series stale; hence waits, never one look.
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(path) for path in rules],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for job, port in ports.items()
        ],
    }


def _finished(location: str, headers: dict[str, str]) -> str | None:
    status: str = httpx.get(location, headers=headers, timeout=10).json()["status"]
    return None if status in ("queued", "running") else status


class PromAPI:
    def __init__(self, base: str) -> None:
        self.base = base

    def query(self, expr: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.base}/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, Any] = answer.json()
        return body

    def value(self, expr: str) -> float:
        """The query's single value; 0 when it has no series (a counter not yet created)."""
        body = self.query(expr)
        assert body["status"] == "success", (expr, body)
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def rules(self) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.base}/api/v1/rules", timeout=10).json()
        return [rule for group in body["data"]["groups"] for rule in group["rules"]]


@pytest.fixture
def up_ports(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[dict[str, int]]:
    """`velocitas up --workers 1` (and its one trader); the port each service's metrics are on."""
    port = free_port()
    env = python_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "VELOCITAS_JOBS_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
            "VELOCITAS_HOME": str(tmp_path),
        }
    )
    log = tmp_path / "up.log"
    argv = [sys.executable, "-m", "velocitas_cli.main", "up", "--workers", "1", "--port", str(port)]
    up = start_process(argv, env, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", up, timeout=90)
        yield {
            "gateway": port, "oracle": port + 1, "analyst": port + 2, "worker": port + 3,
            "trader": port + 4,
        }  # fmt: skip
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=60)
        finally:
            stop_processes(up)
    printed = log.read_text()
    for job, metrics_port in (("gateway", port), ("worker1", port + 3), ("trader1", port + 4)):
        assert f"127.0.0.1:{metrics_port}/metrics" in printed, f"up did not print {job}'s /metrics"


@pytest.mark.slow
@pytest.mark.worker_processes
def test_prometheus_sees_velocitas_up_and_evaluates_every_rule_and_panel(
    up_ports: dict[str, int], tmp_path: Path
) -> None:
    prometheus = _tool("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(_scrape_config(up_ports, RULES)))
    listen = free_port()
    argv = [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{listen}",
    ]
    api = PromAPI(f"http://127.0.0.1:{listen}")
    with running(argv, {}, tmp_path / "prometheus.log") as server:
        wait_for_http(f"{api.base}/-/ready", server, timeout=60)
        for job in JOBS:  # every service, the worker's own endpoint included, is scraped
            wait_until(
                lambda job=job: api.value(f'up{{job="{job}"}}') == 1,
                timeout=120,
                message=f"Prometheus scraped {job}",
                interval=0.5,
            )
        created = 'sum(velocitas_jobs_created_total{job="gateway", kind="backtest"})'
        succeeded = 'sum(velocitas_jobs_succeeded_total{job="worker", kind="backtest"})'
        started = 'sum(velocitas_jobs_started_total{job="worker", kind="backtest"})'
        before = {expr: api.value(expr) for expr in (created, succeeded, started)}

        base = f"http://127.0.0.1:{up_ports['gateway']}"
        store_bars()
        with session_scope() as session:
            headers = {"Authorization": f"Bearer {create_user(session, 'watched').api_key}"}
        locations = []
        for _ in range(2):
            accepted = httpx.post(f"{base}/backtests", json=SPEC, headers=headers, timeout=10)
            assert accepted.status_code == 202, accepted.text
            locations.append(base + accepted.headers["Location"])
        for location in locations:
            # A first worker start compiles the engine's kernels (numba): minutes on a busy machine.
            status = wait_until(
                lambda location=location: _finished(location, headers),
                timeout=300,
                message="the job finished",
                interval=0.2,
            )
            assert status == "succeeded"
        # The oracle has no model: 503, counted all the same, at the oracle and the gateway.
        httpx.post(f"{base}/predict", json={"state": [0.0]}, headers=headers, timeout=10)

        for expr in (created, succeeded, started):
            wait_until(
                lambda expr=expr: api.value(expr) >= before[expr] + 2,
                timeout=60,
                message=f"{expr} rose by 2 (from {before[expr]})",
                interval=0.5,
            )
        wait_until(
            lambda: (
                api.value('sum(velocitas_http_requests_total{job="oracle", route="/predict"})') >= 1
            ),
            timeout=60,
            message="the oracle's /predict was counted",
            interval=0.5,
        )
        for expr, least in (
            ('sum(velocitas_job_queue_wait_seconds_count{job="worker"})', 2),
            ('sum(velocitas_bar_cache_misses_total{job="worker"})', 1),
            ('sum(velocitas_db_pool_connections_max{job="gateway"})', 1),
            ('sum(velocitas_http_requests_total{job="gateway", route="/backtests/{job_id}"})', 2),
        ):
            wait_until(
                lambda expr=expr, least=least: api.value(expr) >= least,
                timeout=60,
                message=f"{expr} reached {least}",
                interval=0.5,
            )

        # Every rule is loaded from the committed files and has been evaluated without error.
        expected = {r["record"] for r in _rules("record")} | {r["alert"] for r in _rules("alert")}

        def evaluated() -> list[dict[str, Any]] | None:
            rules = api.rules()
            done = [r for r in rules if not r.get("lastEvaluation", "").startswith("0001")]
            return rules if len(done) == len(rules) == len(expected) else None

        rules = wait_until(evaluated, timeout=60, message="every rule was evaluated", interval=0.5)
        assert {rule["name"] for rule in rules} == expected
        broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
        assert broken == {}
        wait_until(  # a recording rule's output is queryable like any series
            lambda: (
                api.value('kind:velocitas_jobs_failed:ratio_rate15m{kind="backtest"}') == 0
                and api.value("count(kind:velocitas_jobs_failed:ratio_rate15m)") >= 1
            ),
            timeout=60,
            message="the failure ratio was recorded (0: no job failed)",
            interval=0.5,
        )
        firing = api.query('ALERTS{alertname="VelocitasNoWorkerAlive"}')["data"]["result"]
        assert firing == []  # a worker is alive

        # Every dashboard panel's query evaluates.
        failures = []
        for dashboard, title, expr in panel_queries():
            body = api.query(expr)
            if body.get("status") != "success":
                failures.append((dashboard, title, expr, body.get("error")))
        assert failures == []
