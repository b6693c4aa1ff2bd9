"""Fixtures shared by every test: real embedded PostgreSQL and Redis, a fresh database per test.

One embedded PostgreSQL (pgserver, with pgvector) and one Redis serve the whole run, shared by
the xdist workers through one home directory. Each worker migrates a template database once;
every test that asks for `database_url` gets its own copy of it (`CREATE DATABASE … TEMPLATE`,
a few tens of milliseconds), so tests never see each other's rows and need no clean-up code.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from velocitas import embedded, jit
from velocitas.db import migrate
from velocitas.db.engine import libpq_url
from velocitas.settings import Settings, get_settings

TEST_HOME = Path(__file__).resolve().parent.parent / ".velocitas-test"

# Fix this process's loops now (numba, unless VELOCITAS_JIT says otherwise): a small
# `backtest run` invoked in process would otherwise switch the whole test process to plain
# Python if it came before any compiled module was imported (velocitas_cli.small_runs).
jit.compiling()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def embedded_home() -> Path:
    TEST_HOME.mkdir(exist_ok=True)
    return TEST_HOME


@pytest.fixture(scope="session")
def server_url(embedded_home: Path) -> str:
    """URL of the embedded server's `velocitas` database (used as a connection point only)."""
    return embedded.database_url(Settings(velocitas_home=embedded_home, database_url=None))


def _with_database(url: str, name: str) -> str:
    base, _, query = libpq_url(url).partition("?")
    base = base.rsplit("/", 1)[0]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def template_database(server_url: str) -> str:
    name = f"template_{_worker()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate.upgrade("head", database_url=_with_database(server_url, name))
    return name


@pytest.fixture
def database_url(
    server_url: str, template_database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh, migrated database for this test; `DATABASE_URL` points at it."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = _with_database(server_url, name)
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    from velocitas.db.engine import _engine_for

    _engine_for.cache_clear()  # engines hold pooled connections that would block DROP
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url(embedded_home: Path) -> str:
    return embedded.redis_url(Settings(velocitas_home=embedded_home, redis_url=None))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts worker processes is marked `worker_processes` and `slow`, as
    pyproject's marker list says: refuse one that asks for the `workers` fixture without both.
    (Tests that start `velocitas up` are marked by hand.)"""
    for item in items:
        if "workers" not in getattr(item, "fixturenames", ()):
            continue
        missing = {"worker_processes", "slow"} - {mark.name for mark in item.iter_markers()}
        if missing:
            raise pytest.UsageError(
                f"{item.nodeid} starts worker processes: mark it {' and '.join(sorted(missing))}"
            )
