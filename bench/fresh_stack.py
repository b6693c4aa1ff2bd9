"""A benchmark's own servers: embedded PostgreSQL and Redis in a throwaway home, migrated.

Every end-to-end bench starts from the same place, so none measures against a database an
earlier run (or a developer's shell) left behind: `DATABASE_URL` and `REDIS_URL` are ignored,
the embedded servers start in a new temporary `VELOCITAS_HOME`, and the schema is migrated.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from velocitas import embedded
from velocitas.db import migrate
from velocitas.settings import get_settings

REPO = Path(__file__).resolve().parent.parent


def fresh_stack(**settings: str) -> dict[str, str]:
    """Start the servers (with `settings` exported first, e.g. a private jobs queue) and return
    the environment the bench's subprocesses (gateway, workers, traders) run with."""
    home = Path(tempfile.mkdtemp(prefix="velocitas-bench-"))
    # Registered before the embedded servers start, so it runs after they stop at exit
    # (atexit is last in, first out): a run leaves no database behind.
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["VELOCITAS_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ.update(settings)
    get_settings.cache_clear()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env["DATABASE_URL"] = embedded.database_url()
    env["REDIS_URL"] = embedded.redis_url()
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], REDIS_URL=env["REDIS_URL"])
    get_settings.cache_clear()
    migrate.upgrade("head")
    return env
