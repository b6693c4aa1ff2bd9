"""Small real backtest jobs for the reliability suite, submitted as the gateway does (row
committed, then the id sent), and the count of what each left behind."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from sqlalchemy import text

from velocitas.db import jobs as job_store
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind
from velocitas.jobs import broker_url, send_job

BARS = 200
T0 = datetime(2024, 1, 1, tzinfo=UTC)
SPEC: dict[str, Any] = {
    "symbol": "REL",
    "strategy": {"name": "sma_cross", "params": {"fast": 3, "slow": 9}},
    "timeframe": "1h",
    "start": T0.isoformat(),
    "end": (T0 + timedelta(hours=BARS)).isoformat(),
    "initial_cash": "10000",
}

# Every transition to `succeeded` is a result write: counted by a trigger, so a second write
# of one job's result (a duplicate) cannot go unseen.
_COUNT_RESULT_WRITES = [
    "CREATE TABLE result_write (job_id uuid NOT NULL)",
    "CREATE FUNCTION count_result_write() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN INSERT INTO result_write VALUES (NEW.id); RETURN NULL; END $$",
    "CREATE TRIGGER result_written AFTER UPDATE OF status ON backtest_job FOR EACH ROW"
    " WHEN (NEW.status = 'succeeded') EXECUTE FUNCTION count_result_write()",
]


class Submitter:
    """Prepares the database (bars, an owner, the write counter) and submits jobs."""

    def prepare(self) -> None:
        with session_scope() as session:
            self.owner = create_user(session, f"rel-{uuid.uuid4().hex[:6]}").user.id
            for statement in _COUNT_RESULT_WRITES:
                session.execute(text(statement))
            rows = [
                {"at": T0 + timedelta(hours=i), "close": 100 + (i % 17) - (i % 5)}
                for i in range(BARS)
            ]
            session.execute(
                text(
                    "INSERT INTO bar (symbol, timeframe, opened_at, open, high, low, close,"
                    " volume) VALUES ('REL', '1h', :at, :close, :close + 1, :close - 1,"
                    " :close, 10)"
                ),
                rows,
            )

    def create(self, count: int) -> list[uuid.UUID]:
        """`count` queued backtest jobs, committed (not sent)."""
        with session_scope() as session:
            return [
                job_store.create_job(
                    session, owner_id=self.owner, kind=JobKind.BACKTEST, spec=SPEC
                )[0].id
                for _ in range(count)
            ]

    def send(self, job_ids: list[uuid.UUID]) -> None:
        producer = Celery("rel-producer", broker=broker_url(), set_as_current=False)
        try:
            for job_id in job_ids:
                send_job(producer, job_id, JobKind.BACKTEST)
        finally:
            producer.close()

    def outcome(self, job_ids: list[uuid.UUID]) -> Outcome:
        with session_scope() as session:
            rows = session.execute(
                text(
                    "SELECT j.id, j.status, j.attempts,"
                    " (SELECT count(*) FROM result_write w WHERE w.job_id = j.id),"
                    " (SELECT count(*) FROM backtest_trade t WHERE t.job_id = j.id)"
                    " FROM backtest_job j WHERE j.id = ANY(:ids)"
                ),
                {"ids": job_ids},
            ).all()
        return Outcome(rows)


class Outcome:
    """Per job: status, attempts, result writes, stored trades."""

    def __init__(self, rows: Any) -> None:
        self.status = {row[0]: row[1] for row in rows}
        self.attempts = {row[0]: row[2] for row in rows}
        self.writes = {row[0]: row[3] for row in rows}
        self.trades = {row[0]: row[4] for row in rows}

    @property
    def succeeded(self) -> int:
        return sum(status == "succeeded" for status in self.status.values())

    @property
    def finished(self) -> bool:
        return all(s in ("succeeded", "failed", "cancelled") for s in self.status.values())

    @property
    def duplicates(self) -> int:
        """Result writes beyond the first, over all jobs."""
        return sum(max(count - 1, 0) for count in self.writes.values())
