"""`velocitas copilot ...`: a user's alert rules and alerts, on the configured database.

The CLI speaks for the user named by `--user` (an operator's tool, like `velocitas user`);
over HTTP each user reaches only their own (`/alerts`, docs/copilot.md).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, NoReturn

import orjson
import typer
from rich.markup import escape

from velocitas.errors import InvalidRequest, NotFound, VelocitasError
from velocitas_cli.output import (
    EXIT_INVALID_INPUT,
    EXIT_NOT_FOUND,
    JsonOption,
    console,
    emit_json,
    fail,
    table,
)

app = typer.Typer(help="Copilot: alert rules and the alerts they raised.", no_args_is_help=True)

UserOption = typer.Option(..., "--user", help="The user whose rules and alerts these are.")


@app.command()
def rules(
    user: str = UserOption,
    add: str | None = typer.Option(
        None,
        "--add",
        help='Create a rule from JSON (the body of POST /alerts/rules, e.g. \'{"kind": '
        '"cross", "symbol": "BTCUSDT", "timeframe": "1h", "level": "65000"}\'), or @FILE.',
    ),
    delete: str | None = typer.Option(None, "--delete", help="Delete the rule with this id."),
    json: bool = JsonOption,
) -> None:
    """List USER's alert rules; or create one (--add) or delete one (--delete)."""
    from velocitas import copilot
    from velocitas.db import alerts as alert_store
    from velocitas.db.engine import session_scope

    try:
        with session_scope() as session:
            owner = _owner(session, user)
            if add is not None:
                rule = copilot.create_rule(session, owner, copilot.rule_from_json(_json(add)))
                rows = [_rule(rule)]
            elif delete is not None:
                if not alert_store.delete_rule(session, _id(delete, "--delete"), owner):
                    raise NotFound(f"no alert rule {delete} of {user}")
                rows = []
            else:
                rows = [_rule(r) for r in alert_store.list_rules(session, owner)]
    except VelocitasError as exc:
        _fail(exc)
    if json:
        emit_json(rows[0] if add is not None else {"deleted": delete} if delete else rows)
    elif delete is not None:
        console.print(f"deleted rule {delete}")
    else:
        table(f"alert rules of {user}", rows, ["id", "name", "kind", "symbol", "timeframe"])


@app.command()
def alerts(
    user: str = UserOption,
    unacknowledged: bool = typer.Option(
        False, "--unacknowledged", "-u", help="Only those not acknowledged yet."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="At most this many."),
    json: bool = JsonOption,
) -> None:
    """USER's alerts, newest first."""
    from velocitas.db import alerts as alert_store
    from velocitas.db.engine import session_scope

    try:
        with session_scope() as session:
            owner = _owner(session, user)
            found = alert_store.list_alerts(
                session, owner, acknowledged=False if unacknowledged else None, limit=limit
            )
            rows = [_alert(a) for a in found]
    except VelocitasError as exc:
        _fail(exc)
    if json:
        emit_json(rows)
        return
    table(
        f"alerts of {user}",
        rows,
        ["id", "raised_at", "symbol", "bar_opened_at", "message", "acknowledged_at"],
        no_wrap=["raised_at", "bar_opened_at"],
    )


@app.command()
def ack(
    alert_id: str = typer.Argument(..., help="The alert's id (from `copilot alerts`)."),
    user: str = UserOption,
    json: bool = JsonOption,
) -> None:
    """Acknowledge one of USER's alerts (again: no change, the first time is kept)."""
    from velocitas.db import alerts as alert_store
    from velocitas.db.engine import session_scope

    try:
        with session_scope() as session:
            owner = _owner(session, user)
            alert = alert_store.acknowledge(session, _id(alert_id, "ALERT_ID"), owner)
            if alert is None:
                raise NotFound(f"no alert {alert_id} of {user}")
            row = _alert(alert)
    except VelocitasError as exc:
        _fail(exc)
    if json:
        emit_json(row)
    else:
        console.print(f"acknowledged alert {alert_id} at {row['acknowledged_at']}")


def _owner(session: Any, name: str) -> uuid.UUID:
    from sqlalchemy import select

    from velocitas.db.models import UserAccount

    owner = session.scalar(select(UserAccount.id).where(UserAccount.name == name))
    if owner is None:
        raise NotFound(f"no user {name!r}")
    return owner


def _id(text: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidRequest(f"{text!r} is not an id", field=field) from None


def _json(text: str) -> Any:
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            raise InvalidRequest(f"{text[1:]}: {exc.strerror}", field="--add") from None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"not JSON: {exc}", field="--add") from None


def _rule(rule: Any) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "name": rule.name,
        "kind": rule.kind,
        "symbol": rule.symbol,
        "timeframe": rule.timeframe,
        "spec": rule.spec,
        "webhook_url": rule.webhook_url,
        "created_at": rule.created_at,
    }


def _alert(alert: Any) -> dict[str, Any]:
    return {
        "id": str(alert.id),
        "rule_id": str(alert.rule_id),
        "kind": alert.kind,
        "symbol": alert.symbol,
        "timeframe": alert.timeframe,
        "bar_opened_at": alert.bar_opened_at,
        "job_id": str(alert.job_id) if alert.job_id else None,
        "message": alert.message,
        "details": alert.details,
        "raised_at": alert.raised_at,
        "acknowledged_at": alert.acknowledged_at,
        "delivery": alert.delivery,
        "delivery_attempts": alert.delivery_attempts,
    }


def _fail(error: VelocitasError) -> NoReturn:
    where = f"{error.field}: " if isinstance(error, InvalidRequest) and error.field else ""
    code = (
        EXIT_INVALID_INPUT
        if isinstance(error, InvalidRequest)
        else EXIT_NOT_FOUND
        if isinstance(error, NotFound)
        else None
    )
    fail(f"{escape(where)}{escape(str(error))}", code=code)
