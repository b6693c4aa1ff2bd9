"""Embedded servers: processes that share a home start together and share one server.

Each test uses its own fresh home, so it exercises the cold start (initdb, CREATE DATABASE)
that the session-wide fixtures only go through once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ATTACH = """
import json, sys
import psycopg
from velocitas import embedded
from velocitas.settings import Settings

settings = Settings(velocitas_home=sys.argv[1], database_url=None, redis_url=None)
url = embedded.database_url(settings)
with psycopg.connect(url) as conn:
    database = conn.execute("SELECT current_database()").fetchone()[0]
import redis
redis.Redis.from_url(embedded.redis_url(settings)).ping()
print(json.dumps({"url": url, "database": database}))
"""


def _attach_together(home: Path, processes: int) -> list[dict[str, str]]:
    """Start `processes` interpreters at once, each attaching to the servers under `home`."""
    started = [
        subprocess.Popen(
            [sys.executable, "-c", ATTACH, str(home)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    answers = []
    for process in started:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers


def test_processes_starting_together_on_a_fresh_home_share_one_database() -> None:
    # /tmp keeps the Unix socket paths short whatever the checkout's depth.
    with tempfile.TemporaryDirectory(prefix="vh-") as directory:
        answers = _attach_together(Path(directory), processes=4)

    assert {answer["database"] for answer in answers} == {"velocitas"}
    assert len({answer["url"] for answer in answers}) == 1


def test_the_server_stops_when_the_last_process_leaves() -> None:
    with tempfile.TemporaryDirectory(prefix="vh-") as directory:
        home = Path(directory)
        _attach_together(home, processes=2)
        assert not (home / "pg" / "postmaster.pid").exists()
        # and a later process starts it again on the same data
        (again,) = _attach_together(home, processes=1)
        assert again["database"] == "velocitas"
