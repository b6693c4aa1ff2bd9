"""A finished backtest's HTML report, stored gzip-compressed as the gateway serves it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from velocitas.db.models import BacktestJob, BacktestReport

__all__ = ["StoredReport", "read_report_for_owner", "store_report"]


@dataclass(frozen=True, slots=True)
class StoredReport:
    html_gzip: bytes
    size: int
    """The page's length in bytes once decompressed."""


def store_report(session: Session, job_id: uuid.UUID, html_gzip: bytes, size: int) -> None:
    """Write (or, for a redelivered job, replace) the job's report in the caller's transaction."""
    statement = insert(BacktestReport).values(job_id=job_id, html_gzip=html_gzip, size=size)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[BacktestReport.job_id],
            set_={"html_gzip": statement.excluded.html_gzip, "size": statement.excluded.size},
        )
    )


def read_report_for_owner(
    session: Session, job_id: uuid.UUID, owner_id: uuid.UUID
) -> StoredReport | None:
    """The report of `owner_id`'s job `job_id`; None if there is none (or the job is not theirs)."""
    row = session.execute(
        select(BacktestReport.html_gzip, BacktestReport.size)
        .join(BacktestJob, BacktestJob.id == BacktestReport.job_id)
        .where(BacktestReport.job_id == job_id, BacktestJob.owner_id == owner_id)
    ).one_or_none()
    return None if row is None else StoredReport(html_gzip=row.html_gzip, size=row.size)
