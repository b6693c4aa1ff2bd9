"""SIGTERM drains, with real processes: what compose (or any supervisor) sends on a restart.

- The gateway stops accepting connections at once and finishes the requests in flight (uvicorn's
  graceful shutdown), then exits (by the SIGTERM it re-raises once drained).
- A worker finishes the job it is running (Celery's warm shutdown; acks late), takes no other,
  and exits 0: the job it was running completes once, the next one waits in the queue for
  another worker and completes once too.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.deploy.platform import Platform
from tests.reliability.jobs import Submitter
from tests.support.keys import new_key_headers
from tests.support.ports import accepts_connections
from tests.support.waiting import wait_until
from tests.worker.process import job_row
from velocitas.settings import get_settings

pytestmark = pytest.mark.slow

ORACLE_ANSWER = {"action": "hold", "probability": "0.5", "model_version": "slow-oracle"}


class SlowOracle:
    """An HTTP server standing in for the oracle: it holds each request until released."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.received.set()
                outer.release.wait(timeout=300)
                body = json.dumps(ORACLE_ANSWER).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # quiet
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_oracle() -> Iterator[SlowOracle]:
    oracle = SlowOracle()
    yield oracle
    oracle.close()


def test_sigterm_lets_the_gateway_finish_a_request_in_flight_and_refuse_new_ones(
    database_url: str, redis_url: str, tmp_path: Path, slow_oracle: SlowOracle
) -> None:
    headers = new_key_headers()
    platform = Platform(database_url, redis_url, tmp_path)
    with platform.gateways(1, ORACLE_URL=slow_oracle.url, ORACLE_TIMEOUT_S="60") as [gateway]:
        answers: list[httpx.Response] = []
        in_flight = threading.Thread(
            target=lambda: answers.append(
                httpx.post(
                    f"{gateway.url}/predict",
                    json={"state": [0.0]},
                    headers=headers,
                    timeout=120,
                )
            )
        )
        in_flight.start()
        assert slow_oracle.received.wait(timeout=60), "the request never reached the oracle"

        os.kill(gateway.process.pid, signal.SIGTERM)
        wait_until(
            lambda: not accepts_connections(gateway.port), 60, "the gateway stopped listening"
        )
        assert gateway.process.poll() is None, "the gateway exited with a request in flight"

        slow_oracle.release.set()
        in_flight.join(timeout=60)
        assert answers, "the request in flight got no answer"
        assert answers[0].status_code == 200
        assert answers[0].json() == ORACLE_ANSWER
        # Drained, uvicorn re-raises the signal it caught: its parent sees why it stopped.
        assert gateway.process.wait(timeout=60) in (0, -signal.SIGTERM)


@pytest.mark.worker_processes
def test_sigterm_lets_a_worker_finish_its_job_once_and_leave_the_next_to_another(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = Platform(database_url, redis_url, tmp_path)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VELOCITAS_JOBS_QUEUE", platform.queue)
    get_settings.cache_clear()
    submitter = Submitter()
    submitter.prepare()
    running, waiting = submitter.create(2)
    submitter.send([running, waiting])
    # Each job first spends 20 s reporting progress: long enough to be stopped in the middle.
    workers = platform.workers("tests.reliability.slow_backtests", RELIABILITY_BACKTEST_S="20")
    try:
        first = workers.start()
        wait_until(lambda: job_row(running).progress > 0, 300, "the first job made progress")

        os.kill(first.pid, signal.SIGTERM)  # the main process only, as `docker stop` does
        assert job_row(running).status == "running", "the job ended before SIGTERM: lengthen it"
        assert first.wait(timeout=120) == 0

        outcome = submitter.outcome([running, waiting])
        assert outcome.status == {running: "succeeded", waiting: "queued"}
        assert outcome.writes[running] == 1

        workers.start()  # another worker takes what the stopped one left in the queue
        wait_until(lambda: submitter.outcome([waiting]).finished, 300, "the second job finished")
    finally:
        workers.stop()
    outcome = submitter.outcome([running, waiting])
    assert outcome.status == dict.fromkeys([running, waiting], "succeeded")
    assert outcome.attempts == dict.fromkeys([running, waiting], 1)  # each delivered once
    assert outcome.writes == dict.fromkeys([running, waiting], 1)  # each result written once
