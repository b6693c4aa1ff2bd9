"""JSON log lines, the ids they carry, and `X-Request-ID` handling (in-process, fast)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from typing import Any

import pytest

from velocitas.domain.events import JobKind
from velocitas.jobs import send_job
from velocitas.request_id import RequestId, accepted_request_id
from velocitas.settings import Settings
from velocitas.structured_logs import (
    REQUEST_ID_HEADER,
    ContextFilter,
    JsonFormatter,
    bound,
    current_request_id,
    uses_json,
)


def _format(record: logging.LogRecord) -> dict[str, Any]:
    ContextFilter("gateway").filter(record)
    line: dict[str, Any] = json.loads(JsonFormatter().format(record))
    return line


def _record(msg: str, *args: object, name: str = "gateway.jobs") -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)


def test_a_line_carries_the_bound_ids_and_the_service() -> None:
    with bound(request_id="req-1", job_id="job-1"):
        line = _format(_record("job %s created", "job-1"))
    assert line["message"] == "job job-1 created"
    assert (line["request_id"], line["job_id"], line["service"]) == ("req-1", "job-1", "gateway")
    assert line["level"] == "INFO"
    assert line["at"].endswith("Z")
    assert "job_id" not in _format(_record("outside"))  # unbound again after the block


def test_an_access_line_names_method_path_and_status() -> None:
    record = _record(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "GET", "/ready", "1.1", 200, name="uvicorn.access"
    )
    line = _format(record)
    assert (line["method"], line["path"], line["status"]) == ("GET", "/ready", 200)


def test_an_exception_is_one_line_with_its_traceback() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError: boom" in json.loads(text)["exception"]


@pytest.mark.parametrize(
    ("log_format", "environment", "expected"),
    [(None, "production", True), (None, "development", False), ("json", "development", True),
     ("text", "production", False)],
)  # fmt: skip
def test_json_is_the_default_in_production_only(
    log_format: str | None, environment: str, expected: bool
) -> None:
    settings = Settings(log_format=log_format, environment=environment)  # type: ignore[arg-type]
    assert uses_json(settings) is expected


@pytest.mark.parametrize(
    ("given", "kept"),
    [("abc-123", True), ("a" * 128, True), ("edge:1.2_3", True), ("", False), ("a" * 129, False),
     ("bad id", False), ("x\nINFO forged", False), ("é", False)],
)  # fmt: skip
def test_only_a_well_formed_request_id_is_kept(given: str, kept: bool) -> None:
    accepted = accepted_request_id(given)
    assert (accepted == given) is kept
    if not kept:
        assert len(accepted) == 32


def _call(headers: list[tuple[bytes, bytes]]) -> tuple[dict[str, Any], list[Any]]:
    seen: dict[str, Any] = {}
    sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["headers"] = scope["headers"]
        seen["bound"] = current_request_id()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    scope = {"type": "http", "headers": headers}
    asyncio.run(RequestId(app)(scope, receive, send))
    return seen, sent


def test_the_middleware_keeps_binds_and_answers_the_callers_id() -> None:
    seen, sent = _call([(b"x-request-id", b"edge-7"), (b"accept", b"*/*")])
    assert seen["bound"] == "edge-7"
    assert (b"x-request-id", b"edge-7") in seen["headers"]
    assert (b"x-request-id", b"edge-7") in sent[0]["headers"]
    assert current_request_id() is None


def test_the_middleware_replaces_a_malformed_id_everywhere() -> None:
    seen, sent = _call([(b"x-request-id", b"two words")])
    made = seen["bound"]
    assert made != "two words"
    assert [v for k, v in seen["headers"] if k == b"x-request-id"] == [made.encode()]
    assert (b"x-request-id", made.encode()) in sent[0]["headers"]


class _Sender:
    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

    def send_task(
        self, name: str, *, args: list[str], task_id: str, queue: str, headers: dict[str, str]
    ) -> None:
        self.headers.append(headers)


def test_a_job_sent_while_serving_a_request_carries_its_id() -> None:
    sender = _Sender()
    send_job(sender, uuid.uuid4(), JobKind.BACKTEST)
    with bound(request_id="req-9"):
        send_job(sender, uuid.uuid4(), JobKind.BACKTEST)
    assert sender.headers == [{}, {REQUEST_ID_HEADER: "req-9"}]
