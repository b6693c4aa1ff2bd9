"""Storing copilot rules and alerts: owner-scoped reads, alerts inserted once, acknowledgements
and webhook delivery bookkeeping.

Every read a user asks for filters by owner: another user's rule or alert is None here, and
404 at the edges. `insert_alerts` relies on the table's unique constraints (one alert per rule
and bar, per rule and job): it returns only the alerts it actually stored, so evaluating the
same bars twice raises (and announces) nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from velocitas.db.models.alerts import Alert, AlertRule
from velocitas.db.models.market import Bar

__all__ = [
    "AlertCursor",
    "NewAlert",
    "acknowledge",
    "create_rule",
    "delete_rule",
    "get_alert",
    "get_rule_for_owner",
    "has_rules_for_series",
    "insert_alerts",
    "job_failed_rules",
    "list_alerts",
    "list_rules",
    "record_delivery",
    "rules_for_series",
    "series_is_stored",
]


def create_rule(
    session: Session,
    owner_id: uuid.UUID,
    *,
    name: str,
    kind: str,
    spec: dict[str, Any],
    symbol: str | None = None,
    timeframe: str | None = None,
    webhook_url: str | None = None,
) -> AlertRule:
    rule = AlertRule(
        owner_id=owner_id,
        name=name,
        kind=kind,
        spec=spec,
        symbol=symbol,
        timeframe=timeframe,
        webhook_url=webhook_url,
    )
    session.add(rule)
    session.flush()
    session.refresh(rule)  # created_at, set by the server
    return rule


def list_rules(session: Session, owner_id: uuid.UUID) -> list[AlertRule]:
    """The owner's rules, oldest first."""
    return list(
        session.scalars(
            select(AlertRule)
            .where(AlertRule.owner_id == owner_id)
            .order_by(AlertRule.created_at, AlertRule.id)
        )
    )


def get_rule_for_owner(
    session: Session, rule_id: uuid.UUID, owner_id: uuid.UUID
) -> AlertRule | None:
    return session.scalars(
        select(AlertRule).where(AlertRule.id == rule_id, AlertRule.owner_id == owner_id)
    ).one_or_none()


def delete_rule(session: Session, rule_id: uuid.UUID, owner_id: uuid.UUID) -> bool:
    """Delete the owner's rule and its alerts; False if there is no such rule of theirs."""
    deleted = session.execute(
        delete(AlertRule)
        .where(AlertRule.id == rule_id, AlertRule.owner_id == owner_id)
        .returning(AlertRule.id)
    ).first()
    return deleted is not None


def rules_for_series(session: Session, symbol: str, timeframe: str) -> list[AlertRule]:
    """Every user's rules on one series (the workers evaluate them for their owners)."""
    return list(
        session.scalars(
            select(AlertRule)
            .where(AlertRule.symbol == symbol, AlertRule.timeframe == timeframe)
            .order_by(AlertRule.created_at, AlertRule.id)
        )
    )


def has_rules_for_series(session: Session, symbol: str, timeframe: str) -> bool:
    """Whether any rule watches the series: an import asks the workers only then."""
    return bool(
        session.scalar(
            select(exists().where(AlertRule.symbol == symbol, AlertRule.timeframe == timeframe))
        )
    )


def series_is_stored(session: Session, symbol: str, timeframe: str) -> bool:
    return bool(
        session.scalar(select(exists().where(Bar.symbol == symbol, Bar.timeframe == timeframe)))
    )


def job_failed_rules(session: Session, owner_id: uuid.UUID) -> list[AlertRule]:
    return list(
        session.scalars(
            select(AlertRule)
            .where(AlertRule.owner_id == owner_id, AlertRule.kind == "job_failed")
            .order_by(AlertRule.created_at, AlertRule.id)
        )
    )


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to store: its rule (owner, kind, series and webhook come from it), the bar or
    job it is about, and what to tell."""

    rule: AlertRule
    message: str
    details: dict[str, Any]
    bar_opened_at: datetime | None = None
    job_id: uuid.UUID | None = None


def insert_alerts(session: Session, alerts: Sequence[NewAlert]) -> list[Alert]:
    """Store `alerts`, skipping any already stored for its rule and bar (or job); returns
    those stored by this call, in the order given."""
    if not alerts:
        return []
    ids = [uuid.uuid4() for _ in alerts]
    rows: list[dict[str, Any]] = [
        {
            "id": alert_id,
            "rule_id": a.rule.id,
            "owner_id": a.rule.owner_id,
            "kind": a.rule.kind,
            "symbol": a.rule.symbol,
            "timeframe": a.rule.timeframe,
            "bar_opened_at": a.bar_opened_at,
            "job_id": a.job_id,
            "message": a.message,
            "details": a.details,
            "delivery": "pending" if a.rule.webhook_url else None,
            "delivery_attempts": 0,
        }
        for alert_id, a in zip(ids, alerts, strict=True)
    ]
    stored_ids = set(
        session.scalars(
            insert(Alert).values(rows).on_conflict_do_nothing().returning(Alert.id)
        ).all()
    )
    if not stored_ids:
        return []
    by_id = {
        alert.id: alert for alert in session.scalars(select(Alert).where(Alert.id.in_(stored_ids)))
    }
    return [by_id[alert_id] for alert_id in ids if alert_id in by_id]


@dataclass(frozen=True, slots=True)
class AlertCursor:
    """Where a newest-first page of alerts stopped: the last alert's raise time and id."""

    raised_at: datetime
    id: uuid.UUID


def list_alerts(
    session: Session,
    owner_id: uuid.UUID,
    *,
    acknowledged: bool | None = None,
    rule_id: uuid.UUID | None = None,
    limit: int = 50,
    after: AlertCursor | None = None,
) -> list[Alert]:
    """The owner's alerts, newest first, `limit` of them after `after`."""
    query = select(Alert).where(Alert.owner_id == owner_id)
    if acknowledged is not None:
        query = query.where(
            Alert.acknowledged_at.is_not(None) if acknowledged else Alert.acknowledged_at.is_(None)
        )
    if rule_id is not None:
        query = query.where(Alert.rule_id == rule_id)
    if after is not None:
        query = query.where(tuple_(Alert.raised_at, Alert.id) < (after.raised_at, after.id))
    query = query.order_by(Alert.raised_at.desc(), Alert.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_alert(session: Session, alert_id: uuid.UUID) -> Alert | None:
    """The alert whoever owns it: for workers only (webhook delivery)."""
    return session.get(Alert, alert_id, populate_existing=True)


def acknowledge(session: Session, alert_id: uuid.UUID, owner_id: uuid.UUID) -> Alert | None:
    """Mark the owner's alert acknowledged (the first acknowledgement's time is kept); None if
    there is no such alert of theirs."""
    session.execute(
        update(Alert)
        .where(
            Alert.id == alert_id,
            Alert.owner_id == owner_id,
            Alert.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=func.now())
    )
    return session.scalars(
        select(Alert)
        .where(Alert.id == alert_id, Alert.owner_id == owner_id)
        .execution_options(populate_existing=True)
    ).one_or_none()


def record_delivery(
    session: Session, alert_id: uuid.UUID, *, delivered: bool, final: bool, error: str | None
) -> None:
    """Count one webhook attempt: `delivered`, or failed (`final`: no attempt is left)."""
    state = "delivered" if delivered else "failed" if final else "pending"
    session.execute(
        update(Alert)
        .where(Alert.id == alert_id)
        .values(
            delivery=state,
            delivery_attempts=Alert.delivery_attempts + 1,
            delivery_error=None if delivered else error,
        )
    )
