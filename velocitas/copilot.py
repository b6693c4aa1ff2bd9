"""The copilot: users' alert rules checked and stored, evaluated on imported bars and on failed
jobs, and their alerts stored once and announced.

    create_rule(session, owner_id, rule)        -> AlertRule   (422 naming the field if bad)
    announce_import(summary, sender)            -> bool        (after an import's commit)
    evaluate_bars(symbol, timeframe, first, last) -> [Alert]   (in a worker)
    evaluate_job_failure(job_id)                -> [Alert]     (in a worker, after the failure)
    alert_event(alert, rule_name)               -> AlertRaised (the WebSocket/webhook message)

The gateway (`POST /bars`) and the CLI (`velocitas data import`) call `announce_import` once an
import has committed: when a rule watches the series, a worker evaluates the span
(`worker.alerts`), so an import never waits for rules. Evaluation reads the bars before the
span as history (`warmup` bars at least) and evaluates at most the `max_bars` newest bars of
it: a backfill of years does not raise an alert for every old crossing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy.orm import Session

from velocitas.db import alerts as alert_store
from velocitas.db import jobs as job_store
from velocitas.db.bars import load_bars
from velocitas.db.engine import session_scope
from velocitas.db.models.alerts import Alert, AlertRule
from velocitas.db.sentiment import sentiment_as_of
from velocitas.domain.bars import from_epoch_ns, to_epoch_ns
from velocitas.domain.events import AlertRaised, JobStatus
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.ingest import ImportSummary
from velocitas.jobs import TaskSender, send_bars_imported
from velocitas.research import alert_rules
from velocitas.research.alert_rules import (
    BAR_RULE_KINDS,
    JobFailedRule,
    bar_firings,
    check_rule,
    parse_rule,
)

__all__ = [
    "DEFAULT_MAX_BARS",
    "alert_event",
    "announce_import",
    "create_rule",
    "evaluate_bars",
    "evaluate_job_failure",
    "rule_from_json",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BARS = 1000
"""The newest bars of one import that rules are evaluated on (older ones are history)."""


def rule_from_json(data: Any) -> Any:
    """A rule from JSON-like data (the CLI's), or `InvalidRequest` naming the bad field."""
    try:
        return parse_rule(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        # The union's tag (`cross`, ...) is the first part of pydantic's location: not a field.
        loc = [str(p) for p in error["loc"]]
        if len(loc) > 1 and isinstance(data, dict) and loc[0] == data.get("kind"):
            loc = loc[1:]
        raise InvalidRequest(error["msg"], field=".".join(loc) or "kind") from None


def create_rule(session: Session, owner_id: uuid.UUID, rule: Any) -> AlertRule:
    """Check `rule` (a model of `alert_rules.AlertRuleSpec`) can be evaluated, then store it
    for `owner_id` (not committed). A bar rule's series must be stored: its symbol (or that
    timeframe of it) unknown is refused, naming the field."""
    check_rule(rule)
    symbol = timeframe = None
    if rule.kind in BAR_RULE_KINDS:
        symbol, timeframe = rule.symbol, rule.timeframe.value
        if not alert_store.series_is_stored(session, symbol, timeframe):
            known = _stored_timeframes(session, symbol)
            if not known:
                raise InvalidRequest(f"no bars of {symbol!r} are stored", field="symbol")
            raise InvalidRequest(
                f"no {timeframe} bars of {symbol} are stored (stored: {', '.join(known)}); "
                "rules watch a stored series",
                field="timeframe",
            )
    spec = rule.model_dump(mode="json", exclude={"name", "webhook_url"}, exclude_none=True)
    return alert_store.create_rule(
        session,
        owner_id,
        name=rule.name or alert_rules.describe(rule),
        kind=rule.kind,
        spec=spec,
        symbol=symbol,
        timeframe=timeframe,
        webhook_url=rule.webhook_url,
    )


def _stored_timeframes(session: Session, symbol: str) -> list[str]:
    return [t.value for t in Timeframe if alert_store.series_is_stored(session, symbol, t.value)]


def announce_import(summary: ImportSummary, sender: TaskSender) -> bool:
    """After an import committed: ask a worker to evaluate the rules watching its series on
    the span it stored, if it stored any new or changed bar and any rule watches it. Returns
    whether it asked. A database or queue that cannot be reached is logged: the import stands
    (and its bars raise no alert)."""
    if not (summary.inserted or summary.updated) or summary.first_opened_at is None:
        return False
    try:
        with session_scope() as session:
            if not alert_store.has_rules_for_series(session, summary.symbol, summary.timeframe):
                return False
        send_bars_imported(
            sender,
            summary.symbol,
            summary.timeframe,
            _instant(summary.first_opened_at),
            _instant(summary.last_opened_at or summary.first_opened_at),
        )
    except Exception:  # the database or the broker is away: the bars are stored regardless
        log.warning("could not ask for the alerts of %s %s", summary.symbol, summary.timeframe,
                    exc_info=True)  # fmt: skip
        return False
    return True


def _instant(value: str | datetime) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def evaluate_bars(
    symbol: str,
    timeframe: str,
    first: datetime,
    last: datetime,
    *,
    max_bars: int = DEFAULT_MAX_BARS,
) -> list[tuple[Alert, AlertRule]]:
    """Evaluate every rule watching `symbol` `timeframe` on its stored bars opened in `[first,
    last]` (the newest `max_bars` of them), and store the alerts they raise; returns those
    stored now (an alert already stored for its rule and bar is not raised again)."""
    with session_scope() as session:
        rules = alert_store.rules_for_series(session, symbol, timeframe)
    if not rules:
        return []
    frame = Timeframe.parse(timeframe)
    parsed = [(row, parse_rule({**row.spec, "name": row.name})) for row in rules]
    warmup = max(alert_rules.warmup_bars(rule) for _, rule in parsed)
    end = frame.add(last)
    # Evaluated bars: those in [first, last], at most the newest `max_bars` of them.
    first = max(first, frame.add(last, -(max_bars - 1)))
    start = frame.add(first, -warmup)
    bars = load_bars(symbol, frame, start, end)
    # Time bounds the read; a calendar with gaps (weekends) holds fewer bars than that.
    begin = max(int(np.searchsorted(bars.opened_at, to_epoch_ns(first))), len(bars) - max_bars)
    found: list[alert_store.NewAlert] = []
    for row, rule in parsed:
        try:
            firings = bar_firings(
                rule,
                bars,
                begin,
                sentiment=lambda at: sentiment_as_of(symbol, timeframe, at),
            )
        except Exception:  # one broken rule (a deleted model, say) must not silence the others
            log.exception("alert rule %s could not be evaluated", row.id)
            continue
        found.extend(
            alert_store.NewAlert(
                row,
                firing.message,
                {**firing.details, "close": repr(float(bars.close[firing.index]))},
                bar_opened_at=from_epoch_ns(int(bars.opened_at[firing.index])),
            )
            for firing in firings
        )
    with session_scope() as session:
        stored = alert_store.insert_alerts(session, found)
    rule_of = {row.id: row for row in rules}
    return [(alert, rule_of[alert.rule_id]) for alert in stored]


def evaluate_job_failure(job_id: uuid.UUID) -> list[tuple[Alert, AlertRule]]:
    """Raise the owner's `job_failed` alerts for job `job_id`, if it failed (once per rule)."""
    with session_scope() as session:
        job = job_store.get_job(session, job_id)
        if job is None or job.status != JobStatus.FAILED:
            return []
        found = []
        for row in alert_store.job_failed_rules(session, job.owner_id):
            rule = parse_rule({**row.spec, "name": row.name})
            assert isinstance(rule, JobFailedRule)
            if rule.job_kind is not None and rule.job_kind != job.kind:
                continue
            if job.parent_id is not None and not rule.include_children:
                continue
            found.append(
                alert_store.NewAlert(
                    row,
                    f"{job.kind} job {job.id} failed: {job.error or 'no reason given'}",
                    {"job_kind": job.kind, "error": job.error},
                    job_id=job.id,
                )
            )
        stored = alert_store.insert_alerts(session, found)
        rule_of = {n.rule.id: n.rule for n in found}
        return [(alert, rule_of[alert.rule_id]) for alert in stored]


def alert_event(alert: Alert, rule_name: str) -> AlertRaised:
    """The message announcing `alert` (over the WebSocket, and to its webhook)."""
    return AlertRaised(
        alert_id=alert.id,
        rule_id=alert.rule_id,
        owner_id=alert.owner_id,
        rule_name=rule_name,
        kind=alert.kind,
        symbol=alert.symbol,
        timeframe=alert.timeframe,
        bar_opened_at=alert.bar_opened_at,
        job_id=alert.job_id,
        message=alert.message,
        details=alert.details,
        at=alert.raised_at,
    )
