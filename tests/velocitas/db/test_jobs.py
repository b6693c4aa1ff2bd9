"""Job persistence: idempotent creation, owner filtering, results replaced not duplicated."""

from __future__ import annotations

import uuid
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import text

from velocitas.db import jobs as job_store
from velocitas.db.accounts import create_user
from velocitas.db.engine import session_scope
from velocitas.db.models import EquityChunk
from velocitas.domain.events import JobKind, JobStatus
from velocitas.domain.positions import PositionSide
from velocitas.domain.trades import Trade
from velocitas.errors import Conflict

SPEC = {"symbol": "BTCUSDT", "timeframe": "1h"}
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _user(name: str) -> uuid.UUID:
    with session_scope() as session:
        return create_user(session, name).user.id


def _trade(seq: int) -> Trade:
    return Trade(
        leg=0,
        symbol="BTCUSDT",
        strategy="sma_cross",
        side=PositionSide.LONG,
        quantity=Decimal("0.5"),
        entry_bar=seq,
        entry_at=T0 + timedelta(hours=seq),
        entry_price=Decimal("42000.12345678"),
        exit_bar=seq + 1,
        exit_at=T0 + timedelta(hours=seq + 1),
        exit_price=Decimal("42100.5"),
        gross_pnl=Decimal("50.18827161"),
        fees=Decimal("0.1"),
        net_pnl=Decimal("50.08827161"),
        exit_reason="signal",
    )


def _new_job(owner: uuid.UUID, key: str | None = None, spec: dict | None = None) -> uuid.UUID:
    with session_scope() as session:
        job, _ = job_store.create_job(
            session, owner_id=owner, kind=JobKind.BACKTEST, spec=spec or SPEC, idempotency_key=key
        )
        return job.id


def test_create_job_same_idempotency_key_returns_first_job(database_url: str) -> None:
    owner = _user("alice")
    first = _new_job(owner, key="k1")
    with session_scope() as session:
        again, created = job_store.create_job(
            session, owner_id=owner, kind=JobKind.BACKTEST, spec=SPEC, idempotency_key="k1"
        )
    assert (again.id, created) == (first, False)


def test_create_job_idempotency_key_is_per_owner(database_url: str) -> None:
    alice, bob = _user("alice"), _user("bob")
    assert _new_job(alice, key="same") != _new_job(bob, key="same")


def test_create_job_reused_key_with_other_spec_is_conflict(database_url: str) -> None:
    owner = _user("alice")
    _new_job(owner, key="k1")
    with pytest.raises(Conflict), session_scope() as session:
        job_store.create_job(
            session,
            owner_id=owner,
            kind=JobKind.BACKTEST,
            spec={**SPEC, "symbol": "ETHUSDT"},
            idempotency_key="k1",
        )


def test_get_job_for_owner_hides_other_owners_jobs(database_url: str) -> None:
    alice, bob = _user("alice"), _user("bob")
    job_id = _new_job(alice)
    with session_scope() as session:
        assert job_store.get_job_for_owner(session, job_id, alice) is not None
        assert job_store.get_job_for_owner(session, job_id, bob) is None
        assert job_store.list_jobs(session, bob) == []
        assert job_store.cancel_job(session, job_id, bob) is None


def test_list_jobs_newest_first_pages_with_cursor(database_url: str) -> None:
    owner = _user("alice")
    ids = [_new_job(owner) for _ in range(5)]
    with session_scope() as session:
        page1 = job_store.list_jobs(session, owner, limit=3)
        last = page1[-1]
        page2 = job_store.list_jobs(
            session, owner, limit=3, after=job_store.Cursor(last.created_at, last.id)
        )
    listed = [j.id for j in page1 + page2]
    assert listed == ids[::-1]


def test_record_result_twice_leaves_one_set_of_results(database_url: str) -> None:
    owner = _user("alice")
    job_id = _new_job(owner)
    stamps = np.array([T0.timestamp() * 1e9 + i * 3.6e12 for i in range(4)], dtype=np.int64)
    for _ in range(2):  # the first delivery's worker died; the job is delivered again
        with session_scope() as session:
            assert job_store.mark_running(session, job_id) is not None
    with session_scope() as session:
        assert job_store.record_result(
            session,
            job_id,
            summary={"final_equity": "10050.08827161"},
            trades=[_trade(0), _trade(1)],
            equity_opened_at_ns=stamps,
            equity=np.array([10000.0, 10010.5, 10020.25, 10050.08827161]),
        )
    with session_scope() as session:
        assert not job_store.record_result(session, job_id, summary={}, trades=[_trade(9)])
        trades = job_store.list_trades(session, job_id, owner)
        equity = job_store.list_equity(session, job_id, owner)
        job = job_store.get_job(session, job_id)
    assert job is not None
    assert (job.status, job.progress, job.attempts) == ("succeeded", 1.0, 2)
    assert [t.seq for t in trades] == [0, 1]
    assert trades[0].entry_price == Decimal("42000.12345678")
    assert [p.equity for p in equity][-1] == Decimal("10050.08827161")
    assert equity[1].opened_at == T0 + timedelta(hours=1)


def test_record_result_replaces_partial_results_of_a_lost_delivery(database_url: str) -> None:
    owner = _user("alice")
    job_id = _new_job(owner)
    with session_scope() as session:
        job_store.mark_running(session, job_id)
        session.add(
            EquityChunk(job_id=job_id, chunk=0, opened_at=[T0], equity=[Decimal("1")])
        )  # left behind by a delivery that died
    with session_scope() as session:
        job_store.record_result(
            session,
            job_id,
            summary={},
            trades=[_trade(0)],
            equity_opened_at_ns=np.array([int(T0.timestamp() * 1e9)], dtype=np.int64),
            equity=[Decimal("10000")],
        )
    with session_scope() as session:
        assert [p.equity for p in job_store.list_equity(session, job_id, owner)] == [
            Decimal("10000")
        ]


def test_cancel_job_stops_progress_and_result(database_url: str) -> None:
    owner = _user("alice")
    job_id = _new_job(owner)
    with session_scope() as session:
        job_store.mark_running(session, job_id)
    with session_scope() as session:
        cancelled = job_store.cancel_job(session, job_id, owner)
        assert cancelled is not None
        assert cancelled.status == "cancelled"
    with session_scope() as session:
        assert job_store.record_progress(session, job_id, 0.5) is JobStatus.CANCELLED
        assert not job_store.record_result(session, job_id, summary={})
        assert not job_store.mark_failed(session, job_id, "late")
        assert job_store.mark_running(session, job_id) is None
    with pytest.raises(Conflict), session_scope() as session:
        job_store.cancel_job(session, job_id, owner)


def test_list_equity_pages_across_chunks_exactly(database_url: str) -> None:
    from velocitas.db.models.jobs import EQUITY_CHUNK_POINTS

    owner = _user("alice")
    job_id = _new_job(owner)
    n = EQUITY_CHUNK_POINTS * 2 + 7
    values = 10_000.0 + np.arange(n) * 0.1
    stamps = int(T0.timestamp() * 1e9) + np.arange(n, dtype=np.int64) * 60_000_000_000
    with session_scope() as session:
        job_store.mark_running(session, job_id)
        job_store.record_result(
            session, job_id, summary={}, equity_opened_at_ns=stamps, equity=values
        )
    seen = []
    after = -1
    with session_scope() as session:
        while page := job_store.list_equity(session, job_id, owner, after=after, limit=1000):
            seen.extend(page)
            after = page[-1].seq
        other = job_store.list_equity(session, job_id, _user("bob"), limit=10)
    assert [p.seq for p in seen] == list(range(n))
    assert [p.equity for p in seen] == [Decimal(repr(float(v))) for v in values]
    assert seen[EQUITY_CHUNK_POINTS].opened_at == T0 + timedelta(minutes=EQUITY_CHUNK_POINTS)
    assert other == []


def test_record_result_stores_equity_as_the_servers_exact_cast(database_url: str) -> None:
    # The client encoder for ordinary curves, the server's cast for one it leaves alone
    # (a value past 2**53, where the two print differently): the same NUMERIC either way.
    owner = _user("alice")
    stamps = int(T0.timestamp() * 1e9) + np.arange(5, dtype=np.int64) * 60_000_000_000
    curves = [
        np.array([10_000.0, 10_000.1, 0.30000000000000004, 1.5e-7, np.nan]),
        np.array([10_000.0, 2.333723950794741e16, 1e23, 0.1, np.inf]),
    ]
    for values in curves:
        job_id = _new_job(owner)
        with session_scope() as session:
            job_store.mark_running(session, job_id)
            job_store.record_result(
                session, job_id, summary={}, equity_opened_at_ns=stamps, equity=values
            )
        with session_scope() as session:
            stored = session.execute(
                text("SELECT equity::text FROM equity_chunk WHERE job_id = :j"), {"j": job_id}
            ).scalar_one()
            session.execute(text("SET LOCAL extra_float_digits = 1"))
            cast = session.execute(
                text("SELECT array_agg(v::text::numeric ORDER BY i)::text"
                     " FROM unnest(CAST(:v AS float8[])) WITH ORDINALITY AS u(v, i)"),
                {"v": [float(v) for v in values]},
            ).scalar_one()  # fmt: skip
        assert stored == cast


def test_mark_running_counts_attempts_and_keeps_the_first_start(database_url: str) -> None:
    job_id = _new_job(_user("alice"))
    with session_scope() as session:
        first = job_store.mark_running(session, job_id)
        assert first is not None
        started = first.started_at
    with session_scope() as session:
        again = job_store.mark_running(session, job_id)  # a redelivery
        assert again is not None
        assert (again.status, again.attempts, again.started_at) == ("running", 2, started)
    with session_scope() as session:
        assert job_store.record_result(session, job_id, summary={})
    with session_scope() as session:
        assert job_store.mark_running(session, job_id) is None
        assert job_store.mark_running(session, uuid.uuid4()) is None


def test_record_result_stores_trades_exactly_even_with_copy_special_characters(
    database_url: str,
) -> None:
    owner = _user("alice")
    job_id = _new_job(owner)
    odd = replace(
        _trade(1),
        strategy="tab\there\\back\nline\r",
        exit_reason="\\N",  # COPY's NULL marker, if it were not escaped
        quantity=Decimal("1E+3"),
        net_pnl=Decimal("-0.000000012345678901234567890"),
        entry_at=datetime(2024, 1, 1, 12, 30, 15, 123456, tzinfo=UTC),
    )
    with session_scope() as session:
        job_store.mark_running(session, job_id)
        job_store.record_result(session, job_id, summary={}, trades=[_trade(0), odd])
    with session_scope() as session:
        stored = job_store.list_trades(session, job_id, owner)
    assert [t.seq for t in stored] == [0, 1]
    assert stored[1].strategy == odd.strategy
    assert stored[1].exit_reason == "\\N"
    assert stored[1].quantity == Decimal(1000)
    assert stored[1].net_pnl == odd.net_pnl
    assert stored[1].entry_at == odd.entry_at
    assert (stored[0].entry_price, stored[0].exit_at) == (
        Decimal("42000.12345678"),
        _trade(0).exit_at,
    )


def test_trade_columns_are_the_domain_trade_without_its_bar_indices() -> None:
    kept = [f.name for f in fields(Trade) if f.name not in ("entry_bar", "exit_bar")]
    assert list(job_store.TRADE_COLUMNS) == kept
