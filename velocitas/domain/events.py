"""Event contracts: what happened, named in the past tense, with the instant it happened.

`Event` is the base every event extends: a frozen pydantic model whose `type` names it
(`"<subject>.<what happened>"`) and whose last field, `at`, says when (UTC). Job events are the
first kind; a trading session's (`order.filled`, `position.closed`, ...) extend the same base.
Events are notifications, not the record: whoever missed one reads the state back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AlertRaised",
    "Event",
    "JobEvent",
    "JobEventType",
    "JobKind",
    "JobRef",
    "JobStatus",
]


class Event(BaseModel):
    """Base of every event. A subclass narrows `type` to its own names and declares `at:
    datetime` as its last field (so the JSON reads subject first, instant last)."""

    model_config = ConfigDict(frozen=True)

    type: str

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if list(cls.model_fields)[-1:] != ["at"]:
            raise TypeError(f"{cls.__name__} must declare `at: datetime` as its last field")


class JobKind(StrEnum):
    BACKTEST = "backtest"
    SWEEP = "sweep"
    WALK_FORWARD = "walk_forward"
    FOLD = "fold"  # one fold of a walk-forward: its in-sample optimisation, run as a child job
    TOURNAMENT = "tournament"
    TOURNAMENT_ENTRY = "tournament_entry"  # one (strategy, symbol, timeframe) of a tournament


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the job can change no more."""
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


JobEventType = Literal[
    "job.queued", "job.running", "job.progress", "job.succeeded", "job.failed", "job.cancelled"
]

_STATUS_OF: dict[str, JobStatus] = {
    "job.queued": JobStatus.QUEUED,
    "job.running": JobStatus.RUNNING,
    "job.progress": JobStatus.RUNNING,
    "job.succeeded": JobStatus.SUCCEEDED,
    "job.failed": JobStatus.FAILED,
    "job.cancelled": JobStatus.CANCELLED,
}


class JobRef(Protocol):
    """What an event names of its job: a stored job row, or the worker's view of one."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def owner_id(self) -> uuid.UUID: ...

    @property
    def kind(self) -> str: ...


class JobEvent(Event):
    """One change of a job, as published on Redis and forwarded over the WebSocket.

    Build it with `JobEvent.of`: the status follows from the type, the instant is now.
    """

    type: JobEventType
    job_id: uuid.UUID
    owner_id: uuid.UUID
    kind: JobKind
    status: JobStatus
    progress: float
    summary: dict[str, Any] | None = None
    error: str | None = None
    at: datetime

    @classmethod
    def of(
        cls,
        job: JobRef,
        type: JobEventType,
        *,
        progress: float,
        summary: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> JobEvent:
        """`job`'s event `type`, happening now, with the job's `progress` in [0, 1]."""
        return cls(
            type=type,
            job_id=job.id,
            owner_id=job.owner_id,
            kind=JobKind(job.kind),
            status=_STATUS_OF[type],
            progress=progress,
            summary=summary,
            error=error,
            at=datetime.now(UTC),
        )


class AlertRaised(Event):
    """A copilot rule fired: sent once per stored alert on the owner's `alerts` channel and
    forwarded over the WebSocket (and to the rule's webhook). `bar_opened_at` names the bar it
    fired on (bar rules), `job_id` the job (`job_failed` rules)."""

    type: Literal["alert.raised"] = "alert.raised"
    channel: Literal["alerts"] = "alerts"
    alert_id: uuid.UUID
    rule_id: uuid.UUID
    owner_id: uuid.UUID
    rule_name: str
    kind: str
    symbol: str | None = None
    timeframe: str | None = None
    bar_opened_at: datetime | None = None
    job_id: uuid.UUID | None = None
    message: str
    details: dict[str, Any]
    at: datetime
