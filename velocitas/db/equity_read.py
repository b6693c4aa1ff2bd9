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

# One row per stored chunk (4096 points), each array as one comma-joined text: parsing a few
# long strings costs a fraction of building a Python object per point (a 200,000-point curve
# read per point took seconds on a loaded machine).
_CURVE = text(
    "SELECT array_to_string(ARRAY(SELECT (extract(epoch FROM t) * 1000000)::bigint"
    " FROM unnest(c.opened_at) WITH ORDINALITY AS u(t, i) ORDER BY i), ','),"
    " array_to_string(c.equity, ',')"
    " FROM equity_chunk c JOIN backtest_job j ON j.id = c.job_id"
    " WHERE c.job_id = :job_id AND j.owner_id = :owner_id"
    " ORDER BY c.chunk"
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
    times = ",".join(r[0] for r in rows if r[0])
    micros = np.array(times.split(","), dtype=np.int64) if times else np.empty(0, np.int64)
    exact = [value for r in rows if r[1] for value in r[1].split(",")]
    return StoredCurve(micros, exact)
