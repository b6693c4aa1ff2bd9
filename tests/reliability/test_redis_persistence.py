"""The embedded Redis really runs with the persistence the docs promise: read back from the
running server, not from the config file written for it."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile

import pytest

from velocitas.embedded import REDIS_PERSISTENCE

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

CONFIG_GET = """
import json, sys
import redis
from velocitas import embedded
from velocitas.settings import Settings

settings = Settings(velocitas_home=sys.argv[1], database_url=None, redis_url=None)
client = redis.Redis.from_url(embedded.redis_url(settings), decode_responses=True)
config = {}
for name in ("appendonly", "appendfsync", "save"):
    config.update(client.config_get(name))
print(json.dumps(config))
# The embedded server stops when its last client leaves: this connection must not outlive us.
client.close()
"""


def test_embedded_redis_appends_every_write_to_its_log_and_takes_no_snapshots() -> None:
    # Its own home (the server stops when this process leaves); /tmp keeps the socket short.
    with tempfile.TemporaryDirectory(prefix="vh-") as home:
        done = subprocess.run(
            [sys.executable, "-c", CONFIG_GET, home],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
    config = json.loads(done.stdout.strip().splitlines()[-1])
    assert config == {"appendonly": "yes", "appendfsync": "everysec", "save": ""}
    assert REDIS_PERSISTENCE["appendonly"] == "yes"  # what the docs and compose promise
