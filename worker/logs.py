"""The worker's log lines: JSON when `LOG_FORMAT` says so, each naming its job and its request.

Celery configures the worker's logging itself (level, file, colours); `install` then turns its
handlers into JSON ones (`velocitas.structured_logs`) and binds, around every task, the job id
(the Celery task id is the job id) and the id of the request that submitted it (the message
header `REQUEST_ID_HEADER`, set by `velocitas.jobs.send_job`).
"""

from __future__ import annotations

import logging
from contextlib import ExitStack
from typing import Any

from celery import Task, signals

from velocitas.settings import get_settings
from velocitas.structured_logs import REQUEST_ID_HEADER, bound, json_handlers, uses_json

__all__ = ["install", "request_id_of"]

_bindings: dict[str, ExitStack] = {}


def install() -> None:
    """Connect the handlers below to Celery's signals (once; connecting is idempotent)."""
    signals.after_setup_logger.connect(_json_logger, weak=False, dispatch_uid="velocitas-log")
    signals.after_setup_task_logger.connect(
        _json_logger, weak=False, dispatch_uid="velocitas-task-log"
    )
    signals.task_prerun.connect(_bind, weak=False, dispatch_uid="velocitas-bind")
    signals.task_postrun.connect(_unbind, weak=False, dispatch_uid="velocitas-unbind")


def request_id_of(task: Task) -> str | None:
    """The submitting request's id from the task's message headers, if it came with one."""
    request = task.request
    value = getattr(request, REQUEST_ID_HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(REQUEST_ID_HEADER)
    return str(value) if value else None


def _json_logger(logger: logging.Logger, **_: Any) -> None:
    if uses_json():
        json_handlers(logger.handlers, "worker")
        logger.setLevel(get_settings().log_level)


def _bind(task_id: str, task: Task, **_: Any) -> None:
    stack = ExitStack()
    stack.enter_context(bound(request_id=request_id_of(task), job_id=task_id))
    _bindings[task_id] = stack


def _unbind(task_id: str, **_: Any) -> None:
    stack = _bindings.pop(task_id, None)
    if stack is not None:
        stack.close()
