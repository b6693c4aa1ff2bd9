"""The Celery application: Redis broker, late acknowledgement, one job at a time per process.

Run: `celery -A worker.app worker -Q velocitas.jobs` (or `velocitas up`). No result backend:
a job's state and results live in PostgreSQL.
"""

from __future__ import annotations

from celery import Celery

from velocitas.db.models_registry import get_model
from velocitas.db.sentiment import bar_sentiment
from velocitas.jobs import broker_url, jobs_queue
from velocitas.strategies.policy import PolicyResolver, register_policy_strategy
from worker import logs
from worker.settings import get_worker_settings


def create_app() -> Celery:
    settings = get_worker_settings()
    logs.install()  # JSON log lines naming each task's job and request (LOG_FORMAT)
    # Workers run registered RL policies as strategies ({"name": "policy", ...}), in numpy.
    register_policy_strategy(PolicyResolver(model=get_model, sentiment=bar_sentiment))
    app = Celery(
        "velocitas",
        include=[
            "worker.backtests",
            "worker.sweeps",
            "worker.walk_forwards",
            "worker.tournaments",
            "worker.reconciler",
            "worker.alerts",
            "worker.telemetry",
        ],
    )
    app.conf.update(
        broker_url=broker_url(),
        broker_connection_retry_on_startup=True,
        task_default_queue=jobs_queue(),
        # A job is acknowledged only once it has run; if its worker dies the job is delivered
        # again (jobs are idempotent: results are keyed by job id).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a long job must not hold others hostage in a buffer
        broker_transport_options={
            "visibility_timeout": settings.worker_visibility_timeout_s,
            "unacked_restore_interval": settings.worker_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        task_soft_time_limit=settings.worker_soft_time_limit_s,
        task_time_limit=settings.worker_time_limit_s,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


app = create_app()
