"""Grafana's dashboards are generated from code: the committed JSON is exactly what
deploy/grafana/generate.py makes now, and every panel reads the provisioned datasource."""

from __future__ import annotations

import json
import runpy
from typing import Any

from tests.support.processes import REPO

GENERATOR = REPO / "deploy" / "grafana" / "generate.py"
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"


def _generator() -> dict[str, Any]:
    return runpy.run_path(str(GENERATOR), run_name="velocitas_dashboards")


def test_committed_dashboards_are_what_the_generator_makes() -> None:
    rendered: dict[str, str] = _generator()["rendered"]()
    committed = {path.name: path.read_text() for path in DASHBOARDS.glob("*.json")}
    assert set(committed) == set(rendered) == {"overview.json", "jobs.json", "ml-serving.json"}
    stale = [name for name in rendered if committed[name] != rendered[name]]
    assert stale == [], "run `python deploy/grafana/generate.py` and commit the JSON"


def test_the_check_mode_fails_on_a_hand_edited_dashboard(tmp_path: Any) -> None:
    generator = _generator()
    main = generator["main"]
    generator["OUT"] = tmp_path  # the module's globals: where main() reads and writes
    main.__globals__["OUT"] = tmp_path
    assert main([]) == 0
    assert main(["--check"]) == 0
    edited = tmp_path / "jobs.json"
    edited.write_text(edited.read_text().replace("Velocitas: jobs", "Jobs (edited)"))
    assert main(["--check"]) == 1


def test_every_panel_reads_the_provisioned_prometheus() -> None:
    provisioned = (REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "uid: prometheus" in provisioned
    for path in DASHBOARDS.glob("*.json"):
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"].startswith("velocitas-")
        for panel in dashboard["panels"]:
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel[
                "title"
            ]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "prometheus"
                assert target["expr"].strip()
