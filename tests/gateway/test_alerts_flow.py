"""Copilot alerts end to end on real servers and a real worker process: bars uploaded over
`POST /bars` are evaluated by the worker, the alert arrives over `/ws` once, and is POSTed to a
real local webhook that fails first (retried) then accepts; a failed job raises its alert."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.gateway.conftest import T0, Account, store_bars
from tests.support.waiting import wait_until
from tests.worker.process import WorkerProcess, new_job, send
from velocitas.jobs import TASK_RUN_BACKTEST


class _Webhook:
    """A real HTTP server on 127.0.0.1: answers 500 to the first `failures` POSTs, then 204;
    keeps every body it was sent."""

    def __init__(self, failures: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                self.send_response(500 if len(hook.bodies) <= hook.failures else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    hook = _Webhook(failures=1)
    yield hook
    hook.close()


def _csv(rows: list[tuple[int, float]]) -> str:
    lines = ["time,open,high,low,close,volume"]
    for hour, close in rows:
        at = (T0 + timedelta(hours=hour)).isoformat().replace("+00:00", "Z")
        lines.append(f"{at},{close},{close + 1},{close - 1},{close},1")
    return "\n".join(lines) + "\n"


def _next_alert(ws: Any) -> dict[str, Any]:
    while True:
        message = ws.receive_json()
        if message["type"] == "alert.raised":
            return message  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.worker_processes
def test_uploaded_bars_raise_one_alert_over_ws_and_webhook_with_retries(
    client: TestClient,
    alice: Account,
    writer: Account,
    workers: WorkerProcess,
    webhook: _Webhook,
) -> None:
    store_bars(n=200)  # the last close is about 154.75: well above 300's level below
    rule = {
        "kind": "cross",
        "symbol": "BTCUSDT",
        "timeframe": "1h",
        "level": "300",
        "direction": "above",
        "webhook_url": webhook.url,
    }
    created = client.post("/alerts/rules", json=rule, headers=alice.headers)
    assert created.status_code == 201, created.text
    workers.env["ALERTS_WEBHOOK_BACKOFF_S"] = "0.2"
    workers.start()
    upload = {"symbol": "BTCUSDT", "timeframe": "1h"}
    csv_headers = {**writer.headers, "Content-Type": "text/csv"}
    with client.websocket_connect("/ws", headers=alice.headers) as ws:
        assert ws.receive_json() == {"type": "ready"}
        # Bar 201 crosses 300 (bar 200 is below it): one alert, on bar 201.
        body = _csv([(200, 290.0), (201, 310.5)])
        assert (
            client.post("/bars", params=upload, content=body, headers=csv_headers).status_code
            == 201
        )
        alert = _next_alert(ws)
        assert alert["channel"] == "alerts"
        assert alert["rule_id"] == created.json()["id"]
        assert alert["bar_opened_at"] == (T0 + timedelta(hours=201)).isoformat().replace(
            "+00:00", "Z"
        )
        assert alert["details"]["level"] == "300"
        # The same bars again, and a later bar that does not cross: no second alert. The
        # next message proves it: a bar crossing again (below, then above) raises the next.
        again = client.post("/bars", params=upload, content=body, headers=csv_headers)
        assert again.status_code == 200
        more = _csv([(202, 320.0), (203, 295.0), (204, 305.0)])
        assert (
            client.post("/bars", params=upload, content=more, headers=csv_headers).status_code
            == 201
        )
        following = _next_alert(ws)
        assert following["bar_opened_at"] == (T0 + timedelta(hours=204)).isoformat().replace(
            "+00:00", "Z"
        )

    listed = client.get("/alerts", headers=alice.headers).json()["items"]
    assert sorted(a["bar_opened_at"] for a in listed) == [
        alert["bar_opened_at"],
        following["bar_opened_at"],
    ]

    def delivered() -> list[dict[str, Any]] | None:
        items = client.get("/alerts", headers=alice.headers).json()["items"]
        return items if all(a["delivery"] == "delivered" for a in items) else None

    items = wait_until(delivered, 60, "both alerts were delivered to the webhook")
    # The first POST was answered 500 and retried; every later one was accepted at once.
    assert sum(a["delivery_attempts"] for a in items) == len(items) + 1
    assert len(webhook.bodies) == len(items) + 1
    assert {b["alert_id"] for b in webhook.bodies} == {a["id"] for a in items}


@pytest.mark.slow
@pytest.mark.worker_processes
def test_a_failed_job_raises_its_owners_job_failed_alert(
    client: TestClient, alice: Account, bob: Account, workers: WorkerProcess, platform_env: str
) -> None:
    for account in (alice, bob):
        answer = client.post("/alerts/rules", json={"kind": "job_failed"}, headers=account.headers)
        assert answer.status_code == 201
    workers.start()
    with client.websocket_connect("/ws", headers=alice.headers) as ws:
        assert ws.receive_json() == {"type": "ready"}
        job_id = new_job(alice.id, {"not": "a backtest"})  # the worker cannot run it
        send(TASK_RUN_BACKTEST, job_id, platform_env)
        alert = _next_alert(ws)
    assert alert["job_id"] == str(job_id)
    assert alert["kind"] == "job_failed"
    assert [a["job_id"] for a in client.get("/alerts", headers=alice.headers).json()["items"]] == [
        str(job_id)
    ]
    assert client.get("/alerts", headers=bob.headers).json()["items"] == []
