"""`velocitas up` runs the oracle beside the gateway, on the gateway's port + 1."""

from __future__ import annotations

from velocitas_cli.up import services


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
