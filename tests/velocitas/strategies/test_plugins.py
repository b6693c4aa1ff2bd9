"""Strategy plugins: classes installed packages declare under the entry-point group
`velocitas.strategies` join the registry (and so the CLI, the workers and the notebook); a broken
plugin is reported by name and never breaks the built-ins.

The example package `example_plugin/` is made installed the cheap way: its module and a
`.dist-info` with the `entry_points.txt` its pyproject.toml declares, on a temporary sys.path
entry, which is what `pip install` leaves behind and what importlib.metadata reads.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from tests.support.processes import REPO
from velocitas.domain.bars import BarArrays
from velocitas.errors import InvalidRequest
from velocitas.strategies import registry

EXAMPLE = Path(__file__).parent / "example_plugin"


def _install(
    site: Path, entry_points: dict[str, str], dist: str = "velocitas_example_plugin"
) -> None:
    """What `pip install` leaves in site-packages: the module and its dist-info."""
    shutil.copytree(EXAMPLE / "velocitas_example_plugin", site / "velocitas_example_plugin")
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{lines}")


def _declared() -> dict[str, str]:
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    points: dict[str, str] = project["entry-points"][registry.ENTRY_POINT_GROUP]
    return points


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("velocitas_example_plugin", None)
    for name in _declared():
        registry.unregister(name)
    registry.unregister("broken")
    registry.load_plugins()  # back to what the real environment declares


def _bars() -> BarArrays:
    close = 100.0 + np.cumsum(np.random.default_rng(3).normal(0, 1, 300))
    times = np.arange(300, dtype=np.int64) * 3_600_000_000_000
    return BarArrays("TEST", "1h", times, close, close, close, close, np.ones(300))


def test_registry_builds_a_strategy_an_installed_package_declares(site: Path) -> None:
    assert "close_above_sma" not in registry.names()
    _install(site, _declared())
    assert registry.load_plugins() == {}  # in a running process: scan again
    strategy = registry.build("close_above_sma", {"period": 10})
    sides = strategy.signals(_bars())
    assert sides.dtype == np.int8
    assert set(np.unique(sides)) == {0, 1}
    assert any(entry["name"] == "close_above_sma" for entry in registry.describe())
    with pytest.raises(InvalidRequest) as bad:
        registry.build("close_above_sma", {"period": 1})
    assert bad.value.field == "strategy.params.period"


def test_a_broken_plugin_is_named_and_the_built_ins_stay(site: Path) -> None:
    _install(site, {"broken": "velocitas_example_plugin.missing:Nothing", **_declared()})
    with pytest.warns(registry.PluginWarning, match=r"broken = velocitas_example_plugin\.missing"):
        failures = registry.load_plugins()
    assert list(failures) == ["broken"]
    assert "ModuleNotFoundError" in failures["broken"]
    assert "velocitas_example_plugin 0.1.0" in failures["broken"]
    assert {"sma_cross", "close_above_sma"} <= set(registry.names())  # the good one still loads
    with pytest.raises(InvalidRequest, match="failed to load") as unknown:
        registry.build("broken")
    assert unknown.value.field == "strategy.name"


def test_a_plugin_cannot_take_a_built_in_name(site: Path) -> None:
    _install(site, {"sma_cross": "velocitas_example_plugin:CloseAboveSma"})
    (site / "velocitas_example_plugin" / "__init__.py").write_text(
        (EXAMPLE / "velocitas_example_plugin" / "__init__.py")
        .read_text()
        .replace('name = "close_above_sma"', 'name = "sma_cross"')
    )
    with pytest.warns(registry.PluginWarning, match="already registered"):
        registry.load_plugins()
    assert registry.get("sma_cross").__module__ == "velocitas.strategies.crossover"


def test_cli_strategies_lists_an_installed_plugin(tmp_path: Path) -> None:
    # A fresh process finds the plugin on its own, on first use of the registry.
    _install(tmp_path, _declared())
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "velocitas_cli.main", "backtest", "strategies", "--json"],
        cwd=REPO, env=env, capture_output=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    catalogue = {entry["name"]: entry for entry in orjson.loads(done.stdout)}
    assert catalogue["close_above_sma"]["params"]["period"]["default"] == 20
    assert "sma_cross" in catalogue
