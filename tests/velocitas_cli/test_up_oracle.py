"""`velocitas up` runs the oracle (port + 1) and the analyst (port + 2) beside the gateway, on
loopback unless told otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from velocitas_cli.up import services, url_host


def test_up_services_include_the_oracle_on_the_next_port() -> None:
    running = {service.name: service.command for service in services(1, "127.0.0.1", 8000)}
    assert "oracle" in running
    oracle = running["oracle"]
    assert "oracle.app:create_app" in oracle
    assert "--factory" in oracle
    assert oracle[oracle.index("--port") + 1] == "8001"
    assert running["gateway"][running["gateway"].index("--port") + 1] == "8000"


def test_up_services_include_the_analyst_two_ports_up() -> None:
    running = {service.name: service.command for service in services(1, "127.0.0.1", 8000)}
    analyst = running["analyst"]
    assert "analyst.app:create_app" in analyst
    assert analyst[analyst.index("--port") + 1] == "8002"


def _host(command: list[str]) -> str:
    return command[command.index("--host") + 1]


def test_up_binds_the_internal_services_to_loopback_whatever_the_gateway_host() -> None:
    running = {service.name: service.command for service in services(1, "0.0.0.0", 8000)}
    assert _host(running["gateway"]) == "0.0.0.0"
    assert _host(running["oracle"]) == "127.0.0.1"
    assert _host(running["analyst"]) == "127.0.0.1"


def test_up_binds_the_internal_services_where_asked() -> None:
    running = {s.name: s.command for s in services(1, "0.0.0.0", 8000, internal_host="10.0.0.5")}
    assert _host(running["oracle"]) == "10.0.0.5"
    assert _host(running["analyst"]) == "10.0.0.5"


@pytest.mark.parametrize(
    ("interface", "host"),
    [("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("::", "[::1]"), ("::1", "[::1]")],
)
def test_url_host_is_where_a_local_client_reaches_the_interface(interface: str, host: str) -> None:
    assert url_host(interface) == host


def test_up_gives_each_worker_its_metrics_port_and_directory(tmp_path: Path) -> None:
    planned = {s.name: s for s in services(2, "0.0.0.0", 8000, "10.0.0.5", home=tmp_path)}
    assert planned["gateway"].url == "http://127.0.0.1:8000"
    assert planned["oracle"].url == "http://10.0.0.5:8001"
    for i, port in ((1, 8003), (2, 8004)):
        worker = planned[f"worker{i}"]
        assert worker.url == f"http://10.0.0.5:{port}"
        assert worker.env == {
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics" / f"worker{i}"),
            "WORKER_METRICS_PORT": str(port),
            "WORKER_METRICS_HOST": "10.0.0.5",
        }
        assert worker.metrics_dir == tmp_path / "metrics" / f"worker{i}"
    assert planned["gateway"].env == {}  # one process: no shared directory
