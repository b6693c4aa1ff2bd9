"""Velocitas' Grafana dashboards, as code (grafanalib): the source of deploy/grafana/dashboards/.

    python deploy/grafana/generate.py           # write the JSON files
    python deploy/grafana/generate.py --check   # exit 1 if a committed file differs

Edit this file, never the JSON: tests/deploy/test_dashboards.py fails when the committed JSON
is not what this file generates, and tests/deploy/test_prometheus.py runs every panel's query
against a real Prometheus scraping `velocitas up`. Queries read the recording rules of
deploy/prometheus/rules/recording.yml where one exists, and the scrape jobs named in
deploy/prometheus/prometheus.yml (gateway, oracle, analyst, worker). Trading sessions have no
metrics yet: their dashboard (ticks per second, clock lag, orders, fills and rejections by
reason) comes with them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from grafanalib._gen import DashboardEncoder
from grafanalib.core import Dashboard, GridPos, Stat, Target, Time, TimeSeries

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
"""The datasource provisioned by provisioning/datasources/prometheus.yml."""
RATE = "$__rate_interval"

_WIDTH, _HEIGHT = 12, 8


def _targets(*queries: tuple[str, str]) -> list[Target]:
    return [
        Target(expr=expr, legendFormat=legend, refId=chr(ord("A") + i), datasource=DATASOURCE)
        for i, (expr, legend) in enumerate(queries)
    ]


def series(title: str, *queries: tuple[str, str], unit: str = "short", text: str = "") -> Any:
    return TimeSeries(
        title=title,
        description=text,
        dataSource=DATASOURCE,
        targets=_targets(*queries),
        unit=unit,
    )


def stat(title: str, *queries: tuple[str, str], unit: str = "short", text: str = "") -> Any:
    return Stat(
        title=title,
        description=text,
        dataSource=DATASOURCE,
        targets=_targets(*queries),
        format=unit,
        reduceCalc="lastNotNull",
    )


def dashboard(uid: str, title: str, text: str, panels: list[Any]) -> Any:
    """Panels laid out two a row, in order."""
    for i, panel in enumerate(panels):
        panel.gridPos = GridPos(h=_HEIGHT, w=_WIDTH, x=(i % 2) * _WIDTH, y=(i // 2) * _HEIGHT)
    return Dashboard(
        title=title,
        uid=uid,
        description=text,
        tags=["velocitas"],
        timezone="utc",
        time=Time("now-1h", "now"),
        refresh="30s",
        panels=panels,
    ).auto_panel_ids()


def overview() -> Any:
    return dashboard(
        "velocitas-overview",
        "Velocitas: overview",
        "Is everything up, answering, and keeping up with its work?",
        [
            stat(
                "Services answering",
                ('sum by (job) (up{job=~"gateway|oracle|analyst|worker"})', "{{job}}"),
                text="Instances of each service Prometheus scrapes successfully.",
            ),
            stat(
                "Alerts firing",
                ('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}"),
                text="docs/monitoring.md#alerts says what each one means and what to do.",
            ),
            series(
                "Requests per second",
                ("job:velocitas_http_requests:rate5m", "{{job}}"),
                unit="reqps",
            ),
            series(
                "5xx ratio",
                ("job:velocitas_http_errors:ratio_rate5m", "{{job}}"),
                unit="percentunit",
            ),
            series(
                "Latency p50 / p99",
                ("job:velocitas_http_request_duration_seconds:p50_5m", "{{job}} p50"),
                ("job:velocitas_http_request_duration_seconds:p99_5m", "{{job}} p99"),
                unit="s",
            ),
            series(
                "Jobs waiting and running",
                (
                    "sum by (status) (max by (kind, status) (velocitas_jobs_unfinished))",
                    "{{status}}",
                ),
                text="From PostgreSQL at each scrape of the gateway.",
            ),
            series(
                "Jobs ending per second",
                (f"sum(rate(velocitas_jobs_succeeded_total[{RATE}]))", "succeeded"),
                (f"sum(rate(velocitas_jobs_failed_total[{RATE}]))", "failed"),
                unit="ops",
            ),
            series(
                "Database pool in use",
                (
                    "sum by (job) (velocitas_db_pool_connections_in_use)"
                    " / sum by (job) (velocitas_db_pool_connections_max)",
                    "{{job}}",
                ),
                unit="percentunit",
            ),
        ],
    )


def jobs() -> Any:
    by_kind = "sum by (kind) (rate({metric}[" + RATE + "]))"
    return dashboard(
        "velocitas-jobs",
        "Velocitas: jobs",
        "The queue, the workers and how jobs end, by job kind.",
        [
            series(
                "Jobs per second by kind",
                (by_kind.format(metric="velocitas_jobs_created_total"), "created {{kind}}"),
                (by_kind.format(metric="velocitas_jobs_started_total"), "started {{kind}}"),
                (by_kind.format(metric="velocitas_jobs_succeeded_total"), "succeeded {{kind}}"),
                (by_kind.format(metric="velocitas_jobs_failed_total"), "failed {{kind}}"),
                (by_kind.format(metric="velocitas_jobs_retried_total"), "retried {{kind}}"),
                unit="ops",
            ),
            series(
                "Failure ratio (15 min)",
                ("kind:velocitas_jobs_failed:ratio_rate15m", "{{kind}}"),
                unit="percentunit",
            ),
            series(
                "Queue depth",
                ('max by (kind) (velocitas_jobs_unfinished{status="queued"})', "queued {{kind}}"),
                ("max by (queue) (velocitas_queue_messages)", "messages in {{queue}}"),
                text="Jobs queued in PostgreSQL, and messages waiting in Redis.",
            ),
            series(
                "Oldest queued job",
                (
                    'max by (kind) (velocitas_jobs_oldest_unfinished_age_seconds{status="queued"})',
                    "{{kind}}",
                ),
                unit="s",
            ),
            series(
                "Queue wait p50 / p99",
                ("kind:velocitas_job_queue_wait_seconds:p50_15m", "{{kind}} p50"),
                ("kind:velocitas_job_queue_wait_seconds:p99_15m", "{{kind}} p99"),
                unit="s",
            ),
            series(
                "Job duration p50 / p99",
                ("kind:velocitas_job_duration_seconds:p50_15m", "{{kind}} p50"),
                ("kind:velocitas_job_duration_seconds:p99_15m", "{{kind}} p99"),
                unit="s",
            ),
            series(
                "Workers",
                ('sum(up{job="worker"})', "alive"),
                ("sum(velocitas_worker_jobs_running)", "running a job"),
            ),
            series(
                "Bar cache",
                ("velocitas:bar_cache_hits:ratio_rate15m", "hit ratio"),
                unit="percentunit",
                text="Loads of bars served from the workers' memory (velocitas.db.bar_cache).",
            ),
            series(
                "Bar cache memory",
                ("sum by (instance) (velocitas_bar_cache_bytes)", "{{instance}}"),
                unit="bytes",
            ),
            series(
                "WebSockets",
                ("sum(velocitas_websocket_connections_open)", "open"),
                (
                    f"sum by (direction) (rate(velocitas_websocket_messages_total[{RATE}]))",
                    "messages {{direction}} per second",
                ),
            ),
        ],
    )


def ml_serving() -> Any:
    return dashboard(
        "velocitas-ml-serving",
        "Velocitas: ML serving",
        "The oracle (RL policies) and the analyst (news retrieval and sentiment).",
        [
            stat(
                "Model version served",
                ("max by (version) (velocitas_oracle_model_info) == 1", "{{version}}"),
            ),
            series(
                "Oracle predictions per second",
                (
                    'sum(rate(velocitas_http_requests_total{job="oracle", route="/predict"}'
                    f"[{RATE}]))",
                    "POST /predict",
                ),
                unit="reqps",
            ),
            series(
                "Oracle /predict p50 / p99",
                ("velocitas:oracle_predict_seconds:p50_5m", "p50"),
                ("velocitas:oracle_predict_seconds:p99_5m", "p99 (alert above 100 ms)"),
                unit="s",
            ),
            series(
                "Inference p50 / p99",
                ("velocitas:oracle_inference_seconds:p50_5m", "p50"),
                ("velocitas:oracle_inference_seconds:p99_5m", "p99"),
                unit="s",
                text="The policy's forward pass alone.",
            ),
            series(
                "Through the gateway: /predict p50 / p99",
                (
                    'job_route:velocitas_http_request_duration_seconds:p50_5m{job="gateway",'
                    ' route="/predict"}',
                    "p50",
                ),
                (
                    'job_route:velocitas_http_request_duration_seconds:p99_5m{job="gateway",'
                    ' route="/predict"}',
                    "p99",
                ),
                unit="s",
            ),
            series(
                "Analyst retrieval p50 / p99",
                ("velocitas:analyst_retrieval_seconds:p50_5m", "p50"),
                ("velocitas:analyst_retrieval_seconds:p99_5m", "p99"),
                unit="s",
            ),
            series(
                "Analyst requests per second",
                (
                    'sum by (route) (rate(velocitas_http_requests_total{job="analyst"}'
                    f"[{RATE}]))",
                    "{{route}}",
                ),
                unit="reqps",
            ),
            series(
                "5xx ratio",
                ('job:velocitas_http_errors:ratio_rate5m{job=~"oracle|analyst"}', "{{job}}"),
                unit="percentunit",
            ),
        ],
    )


DASHBOARDS = {"overview": overview, "jobs": jobs, "ml-serving": ml_serving}


def rendered() -> dict[str, str]:
    """Each dashboard's file name and JSON text, as committed."""
    return {
        f"{name}.json": json.dumps(
            build().to_json_data(), cls=DashboardEncoder, sort_keys=True, indent=2
        )
        + "\n"
        for name, build in DASHBOARDS.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    stale = []
    for name, text in rendered().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"not what deploy/grafana/generate.py makes: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
