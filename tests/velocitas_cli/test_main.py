"""The top-level `velocitas` command answers at once: its help imports no area, and the areas'
one-line summaries it shows are the areas' own help."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from tests.support.processes import REPO, python_env
from velocitas_cli.main import AREAS, app, load_area

# What `velocitas --help` must never import: each costs from a tenth of a second (SQLAlchemy)
# to several seconds (torch, sentence-transformers), and numba compiles on first call.
HEAVY = (
    "numba",
    "numpy",
    "pandas",
    "sqlalchemy",
    "psycopg",
    "torch",
    "sentence_transformers",
    "langchain_core",
    "celery",
    "velocitas",
    "analyst",
    "lab",
    "markdown_it",  # rich's help renderer: the top-level help is plain
)

_PROBE = """
import json, sys
from typer.testing import CliRunner
from velocitas_cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.stdin.read())))
print(json.dumps({"exit_code": result.exit_code, "heavy": heavy, "output": result.output}))
"""


def _imports_after(*argv: str) -> dict[str, object]:
    """Run the CLI with `argv` in a fresh interpreter; its exit code, output and the heavy
    top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env({}),
        check=True,
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_help_lists_every_area_and_imports_none() -> None:
    answer = _imports_after("--help")
    assert answer["exit_code"] == 0
    assert answer["heavy"] == []
    for name in AREAS:
        assert name in str(answer["output"])


def test_an_area_help_imports_that_area_only() -> None:
    answer = _imports_after("user", "--help")
    assert answer["exit_code"] == 0
    assert "create" in str(answer["output"])
    assert not {"torch", "sentence_transformers", "numba"} & set(answer["heavy"])  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(AREAS))
def test_summary_is_the_area_own_help(name: str) -> None:
    """The summary shown without importing the area is the one the area states itself."""
    command = load_area(name)
    assert command.name == name
    first_paragraph = (command.help or "").strip().split("\n\n")[0]
    assert " ".join(first_paragraph.split()) == AREAS[name].summary


def test_backtest_area_has_its_sweep_and_walk_forward_commands() -> None:
    command = load_area("backtest")
    assert isinstance(command, typer.core.TyperGroup)
    assert {"run", "strategies", "sweep", "walk-forward"} <= set(command.commands)


def test_unknown_area_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["no-such-area"])
    assert result.exit_code == 2
    assert "No such command" in result.output
