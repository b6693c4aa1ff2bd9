"""What a command imports, run in a fresh interpreter: a short command must not pay for the
heavy packages it never uses (issue 13: a CLI that answers at once). No clock is read: each
test names the modules a path must leave alone, so a stray import fails it on any machine."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from typer.testing import CliRunner

from tests.support.processes import REPO, python_env
from velocitas_cli import small_runs
from velocitas_cli.main import app

# The embedding model's stack (seconds to import), the ORM and migrations (a quarter of a
# second and more), and what only other services use.
MODEL_STACK = ("torch", "sentence_transformers", "transformers", "onnxruntime")
ORM = ("sqlalchemy", "alembic")
SERVICES = ("celery", "fastapi", "langchain_core", "pandas")
# LangChain's core and what it pulls in (LangSmith's client, requests): ~0.5 s.
LANGCHAIN = ("langchain_core", "langsmith")

_PROBE = """
import json, sys
from typer.testing import CliRunner
from velocitas_cli import small_runs
small_runs.SMALL_RUN_ROWS = int(sys.argv.pop(1))
from velocitas_cli.main import app
result = CliRunner().invoke(app, sys.argv[1:])
copy_out = sys.modules.get("velocitas.db.copy_out")
print(json.dumps({
    "exit_code": result.exit_code,
    "output": result.output,
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
    "native_copy_built": bool(copy_out and copy_out._built),
}))
"""


def _run(*argv: str, small_run_rows: int = small_runs.SMALL_RUN_ROWS) -> dict[str, Any]:
    """The CLI with `argv` in a fresh interpreter (this test's DATABASE_URL in its environment):
    exit code, output and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(small_run_rows), *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env({}),
        check=True,
    )
    answer: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return answer


def _imported(answer: dict[str, Any], names: tuple[str, ...]) -> set[str]:
    return set(answer["modules"]) & set(names)


def test_backtest_run_help_imports_no_model_orm_or_service() -> None:
    answer = _run("backtest", "run", "--help")
    assert answer["exit_code"] == 0, answer["output"]
    assert "--strategy" in answer["output"]
    assert _imported(answer, MODEL_STACK + ORM + SERVICES) == set()


def test_backtest_run_on_daily_bars_reads_with_psycopg_alone(goog: str) -> None:
    """A backtest on 2,148 stored daily bars: bars read with psycopg (no SQLAlchemy models,
    no alembic check of an up-to-date schema), no embedding stack, and the small read takes
    the Python COPY loop instead of compiling the native one."""
    answer = _run(
        "backtest", "run", "--symbol", "GOOG", "--timeframe", "1d", "--strategy", "sma_cross",
        "--json",
    )  # fmt: skip
    assert answer["exit_code"] == 0, answer["output"]
    assert json.loads(answer["output"])["result_hash"]
    # pandas may come in with exchange-calendars (GOOG trades on XNYS sessions): not checked.
    assert _imported(answer, MODEL_STACK + ORM + LANGCHAIN + ("celery", "fastapi")) == set()
    assert answer["native_copy_built"] is False


GOOG_RUN = ("backtest", "run", "--symbol", "GOOG", "--timeframe", "1d", "--strategy", "sma_cross",
            "--param", "fast=10", "--param", "slow=30", "--stop-loss", "5%", "--json")  # fmt: skip


def test_backtest_run_on_few_bars_runs_plain_python_with_the_compiled_result(goog: str) -> None:
    """2,148 stored bars are below `SMALL_RUN_ROWS`: numba is never imported, and the report is
    byte for byte the one this (compiled) process prints."""
    answer = _run(*GOOG_RUN)
    assert answer["exit_code"] == 0, answer["output"]
    assert "numba" not in answer["modules"]
    compiled = CliRunner().invoke(app, list(GOOG_RUN))
    assert compiled.exit_code == 0, compiled.output
    assert answer["output"] == compiled.output


def test_backtest_run_above_the_limit_compiles(goog: str) -> None:
    answer = _run(*GOOG_RUN, small_run_rows=2_000)
    assert answer["exit_code"] == 0, answer["output"]
    assert "numba" in answer["modules"]


def test_analyst_sentiment_with_nothing_to_embed_loads_no_model(database_url: str) -> None:
    """No stored news: nothing to embed, so neither the model, LangChain (its `Embeddings` base
    class alone pulls in its callbacks and LangSmith's client) nor the ORM is imported."""
    answer = _run("analyst", "sentiment", "--symbol", "SYN", "--at", "2024-01-02T00:00:00Z")
    assert answer["exit_code"] == 0, answer["output"]
    assert "0 article(s)" in answer["output"]
    assert _imported(answer, MODEL_STACK + ORM + LANGCHAIN) == set()
