"""Tasks of tournament jobs, fanned out over the workers one entry at a time.

`worker.tournaments.run` creates one `tournament_entry` child job per (strategy, symbol,
timeframe) and sends them (see `worker.fan_out`); `worker.tournaments.entry` walks one entry
forward and measures its trials on whichever worker takes it; the last entry to finish ranks
the tournament (`worker.settling`), from the entries' stored results alone.
"""

from __future__ import annotations

from celery import Task
from sqlalchemy.orm import Session

from velocitas.db.bar_cache import load_bars_cached
from velocitas.db.children import create_children
from velocitas.db.coverage import require_stored_bars
from velocitas.db.models import BacktestJob
from velocitas.domain.events import JobKind
from velocitas.engine.version import ENGINE_VERSION
from velocitas.jobs import TASK_RUN_TOURNAMENT, TASK_RUN_TOURNAMENT_ENTRY
from velocitas.research import tournament, tournament_spec
from velocitas.research.tournament_spec import TournamentSpec
from worker.app import app
from worker.fan_out import fan_out
from worker.lifecycle import JobContext, JobOutcome, run_job

_LOADED = 0.1


@app.task(name=TASK_RUN_TOURNAMENT, bind=True, max_retries=None)
def run_tournament_job(self: Task, job_id: str) -> str:
    return fan_out(
        self, job_id, create_children=create_entry_jobs, child_task=TASK_RUN_TOURNAMENT_ENTRY
    )


def create_entry_jobs(session: Session, parent: BacktestJob) -> list[BacktestJob]:
    """The tournament's entry jobs (created once). Raises `InvalidRequest` when it cannot run
    at all (an invalid spec, a symbol with no bars in its range)."""
    spec = TournamentSpec.model_validate(parent.spec)
    the_plan = tournament_spec.plan(spec)
    for index, symbol in enumerate(spec.symbols):
        for timeframe in spec.timeframes:
            require_stored_bars(
                session, symbol, timeframe, spec.start, spec.end, field=f"symbols[{index}]"
            )
    return create_children(
        session,
        parent,
        JobKind.TOURNAMENT_ENTRY,
        [(e.index, {"tournament": parent.spec, "entry": e.index}) for e in the_plan.entries],
    )


@app.task(name=TASK_RUN_TOURNAMENT_ENTRY, bind=True, max_retries=None)
def run_entry_job(self: Task, job_id: str) -> str:
    return run_job(self, job_id, execute_entry)


def execute_entry(context: JobContext) -> JobOutcome:
    """Load the entry's bars over the tournament's range, walk it forward, measure its trials."""
    spec = TournamentSpec.model_validate(context.spec["tournament"])
    the_plan = tournament_spec.plan(spec)
    entry = the_plan.entries[int(context.spec["entry"])]
    series, digest = load_bars_cached(entry.symbol, entry.timeframe, spec.start, spec.end)
    context.progress(_LOADED, force=True)
    return JobOutcome(
        summary=tournament.run_entry(spec, the_plan, entry.index, series),
        data_snapshot_hash=digest,
        engine_version=ENGINE_VERSION,
    )
