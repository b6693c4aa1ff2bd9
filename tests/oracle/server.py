"""A real oracle process (uvicorn) for tests that need one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.ports import free_port
from tests.support.processes import python_env, running, uvicorn, wait_for_http


@contextmanager
def oracle_process(env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """Start `uvicorn oracle.app:create_app --factory`; yield its URL once it serves a model."""
    port = free_port()
    argv = uvicorn(
        "oracle.app:create_app", port, "--factory", "--workers", str(workers),
        "--no-access-log", "--log-level", "warning",
    )  # fmt: skip
    with running(argv, python_env(env), stop_timeout=10) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/ready", process, timeout=60)
        yield url
