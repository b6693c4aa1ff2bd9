"""Structured logs: one JSON object per line, carrying the request id and the job id.

Every line a service writes while it serves a request or runs a job names them, so an operator
follows one submission from nginx through the gateway to the worker that ran it::

    {"at": "2026-12-07T02:13:00.123Z", "level": "INFO", "logger": "gateway.jobs",
     "message": "job 6f1c... queued (backtest)", "service": "gateway",
     "request_id": "0c9e...", "job_id": "6f1c..."}

- `request_id` comes from the `X-Request-ID` header (`velocitas.request_id.RequestId`, which
  makes one when it is absent or malformed); the gateway sends it on to the oracle and the
  analyst, and into each job's Celery message headers (`REQUEST_ID_HEADER`), so the worker's
  lines carry the id of the request that submitted the job.
- `job_id` is bound by the gateway around a submission and by the worker around a task (the
  Celery task id is the job id).

`LOG_FORMAT` chooses: `json` (the default in production), or `text` (elsewhere: the developer's
console, unchanged). `configure_logging` is idempotent and called by every service's entry point,
whatever started it (`velocitas up`, `uvicorn` in a container, a Celery worker); `LOG_LEVEL`
sets the root level (INFO).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from velocitas.settings import Settings, get_settings

__all__ = [
    "REQUEST_ID_HEADER",
    "ContextFilter",
    "JsonFormatter",
    "bound",
    "configure_logging",
    "current_request_id",
    "json_handlers",
    "uses_json",
]

REQUEST_ID_HEADER = "velocitas_request_id"
"""The Celery message header carrying the submitting request's id to the worker."""

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "velocitas_request_id", default=None
)
_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "velocitas_job_id", default=None
)
_HANDLER_NAME = "velocitas-json"
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Record attributes that are not `extra=` fields: the standard ones, and uvicorn's coloured copy
# of its message.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


@contextmanager
def bound(*, request_id: str | None = None, job_id: str | None = None) -> Iterator[None]:
    """Within the block, log lines carry these ids (a None leaves the current one)."""
    tokens = []
    if request_id is not None:
        tokens.append((_request_id, _request_id.set(request_id)))
    if job_id is not None:
        tokens.append((_job_id, _job_id.set(job_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class ContextFilter(logging.Filter):
    """Stamps `request_id`, `job_id` and `service` on every record a handler emits."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get()
        if not hasattr(record, "job_id"):
            record.job_id = _job_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """A record as one JSON line: time, level, logger, message, the ids, `extra=` fields, and
    the traceback of an exception. uvicorn's access lines also get method, path and status."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _, status = args
            line.update(client=client, method=method, path=path, status=status)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                line[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def uses_json(settings: Settings | None = None) -> bool:
    """Whether `LOG_FORMAT` (or, unset, the environment: production) asks for JSON lines."""
    chosen = settings or get_settings()
    if chosen.log_format is None:
        return chosen.environment == "production"
    return chosen.log_format == "json"


def configure_logging(service: str, settings: Settings | None = None) -> None:
    """Send every log line of this process to stderr, as JSON when `uses_json`; in text mode
    only the ids are stamped (nothing the developer sees changes). uvicorn's loggers are
    routed to the same handler so that access lines are JSON too."""
    chosen = settings or get_settings()
    root = logging.getLogger()
    if not uses_json(chosen):
        for existing in root.handlers:
            _add_filter(existing, service)
        return
    ours = [h for h in root.handlers if h.get_name() == _HANDLER_NAME]
    handler = ours[0] if ours else logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    root.handlers = [handler]
    handler.setFormatter(JsonFormatter())
    _add_filter(handler, service)
    root.setLevel(chosen.log_level)
    for name in _SERVER_LOGGERS:  # those uvicorn gave a handler (not one it silenced)
        logger = logging.getLogger(name)
        if logger.handlers:
            logger.handlers = []
            logger.propagate = True


def json_handlers(handlers: list[logging.Handler], service: str) -> None:
    """Turn handlers someone else installed (Celery's) into JSON ones with the ids."""
    for handler in handlers:
        handler.setFormatter(JsonFormatter())
        _add_filter(handler, service)


def _add_filter(handler: logging.Handler, service: str) -> None:
    if not any(isinstance(f, ContextFilter) for f in handler.filters):
        handler.addFilter(ContextFilter(service))
