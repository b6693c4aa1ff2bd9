"""TEST-ONLY task, loaded into test workers with `-I tests.worker.sleepy_tasks`: a job that
sleeps in steps and reports progress, so queue mechanics (redelivery, cancellation, retries,
events) can be tested on the real lifecycle without depending on the engine's speed.

Spec: {"steps": int, "step_s": float, "mode": "ok" | "invalid" | "transient" | "crash"};
`steps` may instead be a strategy parameter of the first leg (what a sweep varies).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from celery import Task

from velocitas.domain.positions import PositionSide
from velocitas.domain.trades import Trade
from velocitas.errors import InvalidRequest, TransientError
from worker.app import app
from worker.fan_out import fan_out
from worker.lifecycle import JobContext, JobOutcome, run_job
from worker.sweeps import create_children

TASK_SLEEPY = "tests.sleepy.run"
TASK_SLEEPY_SWEEP = "tests.sleepy.sweep"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


@app.task(name=TASK_SLEEPY, bind=True, max_retries=None)
def run_sleepy(self: Task, job_id: str) -> str:
    return run_job(self, job_id, sleep_in_steps)


@app.task(name=TASK_SLEEPY_SWEEP, bind=True, max_retries=None)
def run_sleepy_sweep(self: Task, job_id: str) -> str:
    return fan_out(self, job_id, create_children=create_children, child_task=TASK_SLEEPY)


def sleep_in_steps(context: JobContext) -> JobOutcome:
    legs = context.spec.get("legs") or [{"strategy": {"params": {}}}]
    params = legs[0]["strategy"]["params"]
    mode = params.get("mode", context.spec.get("mode", "ok"))
    if mode == "invalid":
        raise InvalidRequest("bar 17 has high below low", field="data")
    if mode == "transient":
        raise TransientError("the database went away")
    if mode == "crash":
        os._exit(1)  # the process dies as if killed: the worker is lost
    steps = int(params.get("steps", context.spec.get("steps", 1)))
    for step in range(steps):
        time.sleep(float(context.spec["step_s"]))
        context.progress((step + 1) / steps, force=True)
    trades = [
        Trade(
            leg=0,
            symbol="TEST",
            strategy="sleepy",
            side=PositionSide.LONG,
            quantity=Decimal(1),
            entry_bar=i,
            entry_at=T0 + timedelta(hours=i),
            entry_price=Decimal("100.25"),
            exit_bar=i + 1,
            exit_at=T0 + timedelta(hours=i + 1),
            exit_price=Decimal("101.5"),
            gross_pnl=Decimal("1.25"),
            fees=Decimal("0.01"),
            net_pnl=Decimal("1.24"),
            exit_reason="signal",
        )
        for i in range(steps)
    ]
    opened_at = np.array([int((T0 + timedelta(hours=i)).timestamp()) * 10**9 for i in range(steps)])
    equity = [Decimal(1000) + Decimal("1.24") * i for i in range(steps)]
    return JobOutcome(
        summary={"steps": steps, "attempt": context.attempt, "metrics": {"score": steps}},
        trades=trades,
        equity_opened_at_ns=opened_at,
        equity=equity,
        data_snapshot_hash="0" * 64,
        engine_version="sleepy",
    )
