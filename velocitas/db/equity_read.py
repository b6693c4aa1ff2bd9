"""A job's whole equity curve read at once, for drawing: times as epoch microseconds and the
values as the exact decimal text PostgreSQL stores (`GET /…/equity/display` downsamples it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["StoredCurve", "read_curve"]

_CURVE = text(
    "SELECT (extract(epoch FROM p.opened_at) * 1000000)::bigint, p.equity::text"
    " FROM equity_chunk c JOIN backtest_job j ON j.id = c.job_id,"
    " unnest(c.opened_at, c.equity) WITH ORDINALITY AS p(opened_at, equity, i)"
    " WHERE c.job_id = :job_id AND j.owner_id = :owner_id"
    " ORDER BY c.chunk, p.i"
)


@dataclass(frozen=True, slots=True, eq=False)
class StoredCurve:
    """Every point of a curve in order: `micros` (UTC epoch µs) and `exact` (decimal text)."""

    micros: npt.NDArray[np.int64]
    exact: list[str]

    def values(self) -> npt.NDArray[np.float64]:
        """The values as float64, for choosing which points to draw (never for money)."""
        return np.array(self.exact, dtype=np.float64) if self.exact else np.empty(0)


def read_curve(session: Session, job_id: uuid.UUID, owner_id: uuid.UUID) -> StoredCurve:
    """The owner's job's whole equity curve; empty when it has none (or is not theirs)."""
    rows = session.execute(_CURVE, {"job_id": job_id, "owner_id": owner_id}).all()
    micros = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return StoredCurve(micros, [r[1] for r in rows])
