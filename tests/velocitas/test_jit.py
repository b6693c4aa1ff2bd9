"""`velocitas.jit`: numba's compiler, or plain Python chosen once per process before any loop
is decorated. Each mode is checked in a fresh interpreter; this test process compiles."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import REPO, python_env
from velocitas import jit

_PROBE = """
import sys
import velocitas.db.pgbinary, velocitas.engine, velocitas.research.sweeps, velocitas.strategies
from velocitas import jit
from velocitas.engine.kernel import simulate
print(jit.compiling(), "numba" in sys.modules, type(simulate).__name__)
"""


def _probe(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _PROBE],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=python_env({jit.JIT_ENV: mode}),
        check=False,
    )


def test_plain_python_mode_never_imports_numba() -> None:
    done = _probe("python")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "function"]


def test_numba_mode_compiles_the_same_functions() -> None:
    done = _probe("numba")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True", "CPUDispatcher"]


def test_an_unknown_mode_is_refused_naming_the_variable() -> None:
    done = _probe("fast")
    assert done.returncode != 0
    assert "VELOCITAS_JIT must be one of numba, python, not 'fast'" in done.stderr


def test_plain_python_cannot_be_chosen_once_loops_are_compiled() -> None:
    """This process decorated its loops with numba (tests/conftest.py fixes the mode first):
    switching now would hand compiled code Python functions, so the request is declined."""
    import velocitas.engine.kernel  # noqa: F401  (a compiled module is imported)

    assert jit.compiling()
    assert jit.use_plain_python() is False
    assert jit.compiling()
