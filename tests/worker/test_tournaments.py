"""Tournament settling: entries fanned out as child jobs; a failed entry is listed in the report,
and a tournament fails only when no entry succeeded."""

from __future__ import annotations

import uuid
from typing import Any

from tests.velocitas.research.tournament_market import random_walk
from velocitas.db import jobs as job_store
from velocitas.db.engine import session_scope
from velocitas.domain.events import JobKind, JobStatus
from velocitas.domain.timeframe import Timeframe
from velocitas.ingest import import_table
from velocitas.research import tournament, tournament_spec
from velocitas.research.tournament_spec import TournamentSpec
from velocitas.synth import synth_bars
from worker.settling import settle
from worker.tournaments import create_entry_jobs

SPEC: dict[str, Any] = {
    "strategies": ["sma_cross", "momentum"],
    "symbols": ["TA", "TB"],
    "start": "2024-01-01T00:00:00Z",
    "end": "2024-01-11T00:00:00Z",
    "folds": 3,
    "cscv_blocks": 4,
}


def _parent_with_entries(owner: uuid.UUID) -> tuple[uuid.UUID, list[uuid.UUID]]:
    for seed, symbol in enumerate(("TA", "TB")):
        import_table(synth_bars(240, Timeframe.H1, seed=seed), symbol=symbol, timeframe="1h")
    with session_scope() as session:
        job, _ = job_store.create_job(session, owner_id=owner, kind=JobKind.TOURNAMENT, spec=SPEC)
        parent = job_store.mark_running(session, job.id)
        assert parent is not None
        return job.id, [child.id for child in create_entry_jobs(session, parent)]


def _entry_result(index: int) -> dict[str, Any]:
    spec = TournamentSpec.model_validate(SPEC)
    plan = tournament_spec.plan(spec)
    entry = plan.entries[index]
    return tournament.run_entry(spec, plan, index, random_walk(entry.symbol, 240, index))


def _finish(child: uuid.UUID, summary: dict[str, Any] | None, error: str | None = None) -> None:
    with session_scope() as session:
        job_store.mark_running(session, child)
        if summary is None:
            job_store.mark_failed(session, child, error or "boom")
        else:
            job_store.record_result(session, child, summary=summary)


def test_a_failed_entry_is_listed_and_the_rest_is_ranked(owner: uuid.UUID) -> None:
    job_id, children = _parent_with_entries(owner)
    assert len(children) == 4  # 2 strategies x 2 symbols
    _finish(children[0], None, "no bars")
    for index in (1, 2):
        _finish(children[index], _entry_result(index))
        waiting = settle(job_id)
        assert waiting is not None
        assert waiting.status == JobStatus.RUNNING
    _finish(children[3], _entry_result(3))
    settled = settle(job_id)
    assert settled is not None
    assert settled.status == JobStatus.SUCCEEDED, settled.error
    report = settled.result_summary
    assert [(f["entry"], f["strategy"], f["symbol"]) for f in report["failed"]] == [
        (0, "sma_cross", "TA")
    ]
    assert "no bars" in report["failed"][0]["error"]
    assert sorted(e["entry"] for e in report["entries"]) == [1, 2, 3]
    assert report["trials"] == 3
    assert settle(job_id) is None  # finished: left alone


def test_a_tournament_whose_entries_all_failed_fails(owner: uuid.UUID) -> None:
    job_id, children = _parent_with_entries(owner)
    for child in children:
        _finish(child, None, "no bars")
    settle(job_id)
    with session_scope() as session:
        job = job_store.get_job(session, job_id)
        assert job is not None
        assert job.status == JobStatus.FAILED
        assert job.error == "no entry succeeded; entry 0 failed: no bars"
