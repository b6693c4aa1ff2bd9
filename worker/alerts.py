"""Copilot tasks: evaluate alert rules on imported bars and on failed jobs, and deliver alerts
to webhooks with bounded retries.

`worker.alerts.bars_imported` (args: symbol, timeframe, first and last opening instants, ISO)
runs `velocitas.copilot.evaluate_bars` and announces each alert stored by it (`alerts` channel,
forwarded over `/ws`); an alert whose rule names a webhook is then delivered by
`worker.alerts.deliver` (args: alert id): a JSON POST of the `AlertRaised` message, tried up to
`ALERTS_WEBHOOK_ATTEMPTS` times with capped exponential backoff; any 2xx answer delivers it.
Both are idempotent: alerts are stored once per rule and bar, and a delivered alert is not
sent again.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
import uuid
from datetime import datetime

import kombu.exceptions
import psycopg
import redis
import sqlalchemy.exc
from celery import Task

from velocitas.copilot import alert_event, evaluate_bars, evaluate_job_failure
from velocitas.db import alerts as alert_store
from velocitas.db.engine import session_scope
from velocitas.db.models.alerts import Alert, AlertRule
from velocitas.jobs import TASK_ALERTS_BARS, TASK_ALERTS_DELIVER, jobs_queue, publish_alert
from worker.app import app
from worker.settings import get_worker_settings

log = logging.getLogger(__name__)


# A database or Redis away: tried again a few times (evaluating twice raises nothing twice).
_TRANSIENT = (
    sqlalchemy.exc.OperationalError,
    psycopg.OperationalError,
    redis.ConnectionError,
    kombu.exceptions.OperationalError,
)


@app.task(
    name=TASK_ALERTS_BARS,
    bind=True,
    autoretry_for=_TRANSIENT,
    max_retries=5,
    retry_backoff=True,
    retry_backoff_max=60,
)
def bars_imported(self: Task, symbol: str, timeframe: str, first: str, last: str) -> int:
    """Evaluate the rules of one series on the bars an import stored; returns alerts raised."""
    settings = get_worker_settings()
    raised = evaluate_bars(
        symbol,
        timeframe,
        datetime.fromisoformat(first),
        datetime.fromisoformat(last),
        max_bars=settings.alerts_max_bars_per_import,
    )
    announce(raised)
    return len(raised)


def on_job_failed(job_id: uuid.UUID) -> None:
    """Raise the owner's `job_failed` alerts for a job that just failed. Best effort: the
    failure is recorded already, and an alert lost here must not fail the worker's task."""
    try:
        announce(evaluate_job_failure(job_id))
    except Exception:
        log.warning("job %s: its job_failed alerts could not be raised", job_id, exc_info=True)


def announce(raised: list[tuple[Alert, AlertRule]]) -> None:
    """Publish each newly stored alert, and send those with a webhook to delivery."""
    for alert, rule in raised:
        publish_alert(alert_event(alert, rule.name))
        if rule.webhook_url:
            app.send_task(TASK_ALERTS_DELIVER, args=[str(alert.id)], queue=jobs_queue())


@app.task(
    name=TASK_ALERTS_DELIVER,
    bind=True,
    autoretry_for=_TRANSIENT,
    max_retries=50,  # webhook tries are bounded by ALERTS_WEBHOOK_ATTEMPTS, counted in the row
    retry_backoff=True,
    retry_backoff_max=60,
)
def deliver(self: Task, alert_id: str) -> str:
    """POST the alert to its rule's webhook; retried with backoff up to the attempt limit."""
    settings = get_worker_settings()
    with session_scope() as session:
        alert = alert_store.get_alert(session, uuid.UUID(alert_id))
        rule = session.get(AlertRule, alert.rule_id) if alert is not None else None
        if alert is None or rule is None or not rule.webhook_url or alert.delivery != "pending":
            return "skipped"
        body = alert_event(alert, rule.name).model_dump_json().encode()
        url, attempts = rule.webhook_url, alert.delivery_attempts
    error = _post(url, body, settings.alerts_webhook_timeout_s)
    final = error is None or attempts + 1 >= settings.alerts_webhook_attempts
    with session_scope() as session:
        alert_store.record_delivery(
            session, uuid.UUID(alert_id), delivered=error is None, final=final, error=error
        )
    if error is None:
        return "delivered"
    if final:
        log.warning(
            "alert %s: webhook gave up after %s attempts: %s", alert_id, attempts + 1, error
        )
        return "failed"
    countdown = min(settings.alerts_webhook_backoff_s * 2**attempts, 60.0)
    raise self.retry(countdown=countdown)


def _post(url: str, body: bytes, timeout: float) -> str | None:
    """POST `body` as JSON; None on a 2xx answer, else why not."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "velocitas-copilot"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if 200 <= status < 300 else f"HTTP {status}"
