"""The platform's errors as HTTP answers: the one mapping every service (gateway, analyst,
oracle) installs, so the same error reads the same whichever service answers.

    InvalidRequest        422  {"detail": [{"loc": [...], "msg": "...", "type": "value_error"}]}
      TooLarge            413  {"detail": "..."}
    NotFound              404  {"detail": "..."}, or with `available`:
                               {"detail": {"message": "...", "available": [...]}}
    Conflict              409  {"detail": "..."}
    TransientError        503  {"detail": "..."}, with Retry-After
    ConfigurationError    503  {"detail": "..."}
    request validation    422  {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}
    database or Redis     503  {"detail": "the database is unavailable, retry later"}, with
      unreachable              Retry-After (`unavailable`: connection-level errors of
                               SQLAlchemy, psycopg and redis-py that reach a route untranslated)

A 422 has the shape of FastAPI's own validation errors, so clients parse one format. Its `loc`
starts with the part of the request at fault (`body`, `query`, `path`, `header`): an
`InvalidRequest.field` such as `legs[0].strategy.params.fast` becomes
`["body", "legs", 0, "strategy", "params", "fast"]`, one rooted already (`query.cursor`) keeps
its root, and a bare one takes the service's default root. Validation problems never echo the
input back: a NaN cannot be written as JSON, and a client never needs its own megabyte back.
A 503 for an unreachable dependency names the dependency only: the exception's text (a DSN, the
embedded Redis's socket path) is for the service's log, never for the client.

What a message quotes of the input is bounded too: every message (and `loc` key) is cut to
`MAX_ECHO` characters, marked with "… (N more characters)", and a lone surrogate in it is
written as its escape, so every answer can be encoded as UTF-8 JSON.

FastAPI-free (velocitas depends on no web framework): each service's `errors.install` turns an
`HttpAnswer` into its response.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis.exceptions
import sqlalchemy.exc

from velocitas.errors import (
    ConfigurationError,
    Conflict,
    InvalidRequest,
    NotFound,
    TooLarge,
    TransientError,
    VelocitasError,
)

__all__ = [
    "DEPENDENCY_DOWN",
    "HTTP_STATUS",
    "MAX_ECHO",
    "REQUEST_PARTS",
    "RETRY_AFTER_S",
    "HttpAnswer",
    "answer",
    "bounded",
    "invalid_input",
    "locate",
    "unavailable",
]

HTTP_STATUS: dict[type[VelocitasError], int] = {
    InvalidRequest: 422,
    TooLarge: 413,
    NotFound: 404,
    Conflict: 409,
    TransientError: 503,
    ConfigurationError: 503,
}
"""The status of each error class; a subclass not listed answers as its nearest listed base."""

REQUEST_PARTS = ("body", "query", "path", "header")

RETRY_AFTER_S = 5
"""Seconds a client should wait before retrying a 503 whose cause may pass by itself."""

DATABASE_DOWN = "the database is unavailable, retry later"
_QUEUE_DOWN = "the queue is unavailable, retry later"
DEPENDENCY_DOWN: dict[type[Exception], str] = {
    sqlalchemy.exc.OperationalError: DATABASE_DOWN,  # refused, reset, server shutting down
    sqlalchemy.exc.InterfaceError: DATABASE_DOWN,  # the connection closed under the driver
    sqlalchemy.exc.TimeoutError: DATABASE_DOWN,  # no pooled connection came free in time
    psycopg.OperationalError: DATABASE_DOWN,
    psycopg.InterfaceError: DATABASE_DOWN,
    redis.exceptions.ConnectionError: _QUEUE_DOWN,
    redis.exceptions.TimeoutError: _QUEUE_DOWN,
}
"""Connection-level errors of the storage clients, answered 503 with the public reason: a
dependency that is down or overloaded may come back, so the client should retry later."""

MAX_ECHO = 500
"""The most characters of one message (or `loc` key) an answer carries."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    """A status code and the JSON body to send with it."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def answer(error: VelocitasError, *, root: str = "body") -> HttpAnswer:
    """The answer to `error`; `root` locates an `InvalidRequest` whose field names no part of
    the request. An error of no listed class answers 500, as an unexpected one would."""
    status = next((HTTP_STATUS[c] for c in type(error).__mro__ if c in HTTP_STATUS), 500)
    message = bounded(str(error))
    if status == 422 and isinstance(error, InvalidRequest):
        problem = {"loc": locate(error.field, root), "msg": message, "type": "value_error"}
        return HttpAnswer(422, {"detail": [problem]})
    if isinstance(error, NotFound) and error.available is not None:
        return HttpAnswer(status, {"detail": {"message": message, "available": error.available}})
    if isinstance(error, TransientError):
        return HttpAnswer(status, {"detail": message}, _retry_after())
    return HttpAnswer(status, {"detail": message})


def unavailable(error: BaseException) -> HttpAnswer | None:
    """503 with `Retry-After` for a connection-level error of the database or Redis client
    (`DEPENDENCY_DOWN`), naming the dependency only; None for any other error."""
    reason = next((DEPENDENCY_DOWN[c] for c in type(error).__mro__ if c in DEPENDENCY_DOWN), None)
    if reason is None:
        return None
    return HttpAnswer(503, {"detail": reason}, _retry_after())


def _retry_after() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_S)}


def invalid_input(errors: Iterable[Mapping[str, Any]]) -> HttpAnswer:
    """The 422 for validation errors (pydantic's or FastAPI's `errors()`): where, what, which
    check; never the input itself."""
    problems = [
        {"loc": [_bounded_part(p) for p in e["loc"]], "msg": bounded(e["msg"]), "type": e["type"]}
        for e in errors
    ]
    return HttpAnswer(422, {"detail": problems})


def bounded(text: str, limit: int = MAX_ECHO) -> str:
    """`text` cut to `limit` characters (marked with how many more there were), lone
    surrogates written as their escapes (`\\ud800`) so the answer encodes as UTF-8."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit} more characters)"
    return text


def _bounded_part(part: Any) -> Any:
    return bounded(part, 100) if isinstance(part, str) else part


def locate(field: str | None, root: str = "body") -> list[str | int]:
    """`legs[0].strategy.params.fast` -> ["body", "legs", 0, "strategy", "params", "fast"];
    a field already rooted (`query.cursor`) keeps its root; none at all is `[root]`."""
    parts: list[str | int] = [
        int(part) if part.isascii() and part.isdigit() else bounded(part, 100)
        for part in re.split(r"[.\[\]]+", field or "")
        if part
    ]
    if not parts or parts[0] not in REQUEST_PARTS:
        parts.insert(0, root)
    return parts
