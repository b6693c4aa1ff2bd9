"""One exception tree for the whole platform, grouped by what the caller must do.

    VelocitasError
    ├── InvalidRequest        the caller sent something wrong: fix the input (HTTP 422, CLI exit 2)
    │   ├── InvalidFile       a file failed validation; carries row-level problems
    │   └── TooLarge          the input is larger than accepted (HTTP 413)
    ├── NotFound              the thing asked for does not exist, or is not yours (HTTP 404)
    ├── Conflict              the request contradicts current state (HTTP 409)
    ├── TransientError        a dependency hiccuped: retrying later may succeed (HTTP 503)
    └── ConfigurationError    the deployment is wrong: an operator must act (HTTP 503)

Lower-level errors (psycopg, redis, OS) are translated where they enter, with `raise ... from exc`.
Every HTTP service answers these the one way `velocitas.http_errors` describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConfigurationError",
    "Conflict",
    "InvalidFile",
    "InvalidRequest",
    "NotFound",
    "RowProblem",
    "TooLarge",
    "TransientError",
    "VelocitasError",
]


class VelocitasError(Exception):
    """Root of every error the platform raises on purpose."""


class InvalidRequest(VelocitasError):
    """The input is wrong; `field` names what, the message says why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One bad value in a file: 1-based data row number, the column, and why it was refused."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


class InvalidFile(InvalidRequest):
    """A file failed validation. `problems` lists the first bad rows; `total` counts them all."""

    def __init__(
        self, source: str, problems: list[RowProblem], *, total: int | None = None
    ) -> None:
        self.source = source
        self.problems = problems
        self.total = len(problems) if total is None else total
        shown = "\n".join(f"  {source}: {p}" for p in problems)
        super().__init__(f"{source}: {self.total} invalid row(s)\n{shown}", field="file")


class TooLarge(InvalidRequest):
    """The input (a request body, an upload) is larger than the configured limit."""


class NotFound(VelocitasError):
    """The resource does not exist, or belongs to someone else (which callers must not learn).
    `available`, when given, lists what does exist instead (the stored series, say), so the
    caller can choose; it never names another user's resources."""

    def __init__(self, message: str, *, available: list[Any] | None = None) -> None:
        super().__init__(message)
        self.available = available


class Conflict(VelocitasError):
    """The request contradicts the current state (a finished job cannot be cancelled, say)."""


class TransientError(VelocitasError):
    """A dependency failed in a way that may pass: the caller may retry with backoff."""


class ConfigurationError(VelocitasError):
    """The deployment is misconfigured; no retry will help until an operator acts."""
