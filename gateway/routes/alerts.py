"""Copilot alerts: `POST/GET /alerts/rules`, `GET/DELETE /alerts/rules/{rule_id}`, `GET /alerts`
and `POST /alerts/{alert_id}/ack`, all owner-scoped (another user's rule or alert is a 404).

Rules are checked when created (a rule that could not be evaluated is a 422 naming the field)
and evaluated by the workers on imported bars and on failed jobs; each alert is stored once,
pushed over `/ws` (`"type": "alert.raised"`) and, when its rule has a webhook, POSTed to it.
See docs/copilot.md.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from gateway.deps import CurrentUser, SessionDep
from gateway.jobs import UNAUTHENTICATED, Responses
from gateway.schemas import (
    AlertPage,
    AlertPublic,
    AlertRulePublic,
    ErrorBody,
    ValidationProblem,
)
from velocitas import copilot
from velocitas.db import alerts as alert_store
from velocitas.errors import InvalidRequest, NotFound
from velocitas.research.alert_rules import AlertRuleSpec

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=UNAUTHENTICATED)

_NO_RULE: Responses = {404: {"model": ErrorBody, "description": "No such rule (or not yours)."}}
_NO_ALERT: Responses = {404: {"model": ErrorBody, "description": "No such alert (or not yours)."}}


@router.post(
    "/rules",
    status_code=status.HTTP_201_CREATED,
    response_model=AlertRulePublic,
    responses={
        201: {"headers": {"Location": {"schema": {"type": "string"}}}},
        422: {
            "model": ValidationProblem,
            "description": "A rule that could not be evaluated; `detail[].loc` names the field.",
        },
    },
)
def create_alert_rule(
    rule: Annotated[AlertRuleSpec, Body()],
    user: CurrentUser,
    session: SessionDep,
    response: Response,
) -> AlertRulePublic:
    """Create a rule; it is evaluated on every bar imported from now on (and on failed jobs)."""
    stored = copilot.create_rule(session, user.id, rule)
    session.commit()
    response.headers["Location"] = f"/alerts/rules/{stored.id}"
    return AlertRulePublic.model_validate(stored)


@router.get("/rules", response_model=list[AlertRulePublic])
def list_alert_rules(user: CurrentUser, session: SessionDep) -> list[AlertRulePublic]:
    """The caller's rules, oldest first."""
    return [AlertRulePublic.model_validate(r) for r in alert_store.list_rules(session, user.id)]


@router.get("/rules/{rule_id}", response_model=AlertRulePublic, responses=_NO_RULE)
def read_alert_rule(rule_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AlertRulePublic:
    rule = alert_store.get_rule_for_owner(session, rule_id, user.id)
    if rule is None:
        raise NotFound(f"no alert rule {rule_id}")
    return AlertRulePublic.model_validate(rule)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NO_RULE)
def delete_alert_rule(rule_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Delete the rule and its alerts."""
    if not alert_store.delete_rule(session, rule_id, user.id):
        raise NotFound(f"no alert rule {rule_id}")
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("", response_model=AlertPage)
def list_alerts(
    user: CurrentUser,
    session: SessionDep,
    acknowledged: Annotated[bool | None, Query(description="Only (un)acknowledged ones.")] = None,
    rule_id: Annotated[uuid.UUID | None, Query(description="Only this rule's.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertPage:
    """The caller's alerts, newest first, a page at a time."""
    alerts = alert_store.list_alerts(
        session,
        user.id,
        acknowledged=acknowledged,
        rule_id=rule_id,
        limit=limit + 1,
        after=_decode(cursor),
    )
    next_cursor = None
    if len(alerts) > limit:
        last = alerts[limit - 1]
        raw = f"{last.raised_at.isoformat()}|{last.id}".encode()
        next_cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return AlertPage(
        items=[AlertPublic.model_validate(a) for a in alerts[:limit]], next_cursor=next_cursor
    )


@router.post("/{alert_id}/ack", response_model=AlertPublic, responses=_NO_ALERT)
def acknowledge_alert(alert_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> AlertPublic:
    """Mark the alert acknowledged (again: no change, the first time is kept)."""
    alert = alert_store.acknowledge(session, alert_id, user.id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    session.commit()
    return AlertPublic.model_validate(alert)


def _decode(cursor: str | None) -> alert_store.AlertCursor | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        raised_at, alert_id = raw.split("|")
        return alert_store.AlertCursor(datetime.fromisoformat(raised_at), uuid.UUID(alert_id))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("not a cursor from this API", field="query.cursor") from exc
