"""Event contracts: the job event's one constructor, its wire format, and the base's rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import NamedTuple

import pydantic
import pytest

from velocitas.domain import Event, JobEvent, JobEventType, JobKind, JobStatus


class _Job(NamedTuple):
    id: uuid.UUID
    owner_id: uuid.UUID
    kind: str


JOB = _Job(uuid.UUID(int=1), uuid.UUID(int=2), "sweep")


@pytest.mark.parametrize(
    ("type_", "status"),
    [
        ("job.queued", JobStatus.QUEUED),
        ("job.running", JobStatus.RUNNING),
        ("job.progress", JobStatus.RUNNING),
        ("job.succeeded", JobStatus.SUCCEEDED),
        ("job.failed", JobStatus.FAILED),
        ("job.cancelled", JobStatus.CANCELLED),
    ],
)
def test_job_event_of_takes_the_status_from_the_type(
    type_: JobEventType, status: JobStatus
) -> None:
    before = datetime.now(UTC)
    event = JobEvent.of(JOB, type_, progress=0.5)
    assert (event.job_id, event.owner_id, event.kind) == (JOB.id, JOB.owner_id, JobKind.SWEEP)
    assert (event.type, event.status, event.progress) == (type_, status, 0.5)
    assert before <= event.at <= datetime.now(UTC)


def test_job_event_json_reads_subject_first_and_instant_last() -> None:
    event = JobEvent.of(JOB, "job.failed", progress=0.25, error="boom")
    text = event.model_dump_json()
    assert text.startswith(
        '{"type":"job.failed","job_id":"00000000-0000-0000-0000-000000000001",'
        '"owner_id":"00000000-0000-0000-0000-000000000002","kind":"sweep","status":"failed",'
        '"progress":0.25,"summary":null,"error":"boom","at":"'
    )
    assert JobEvent.model_validate_json(text) == event


def test_job_event_is_immutable() -> None:
    event = JobEvent.of(JOB, "job.queued", progress=0.0)
    with pytest.raises(pydantic.ValidationError):
        event.progress = 1.0  # type: ignore[misc]


def test_event_subclass_must_end_with_its_instant() -> None:
    with pytest.raises(TypeError, match="at: datetime"):

        class Nameless(Event):
            at: datetime
            order_id: uuid.UUID


def test_job_status_finished_only_when_it_can_change_no_more() -> None:
    assert {s for s in JobStatus if s.finished} == {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    }
