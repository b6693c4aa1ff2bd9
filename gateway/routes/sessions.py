"""`/sessions`: trading sessions' control plane. Create (202), list, read, change state
(`start|pause|resume|stop|kill`, 409 where the state forbids it), the admin's global kill
switch, manual orders (idempotent on `client_order_id`), and the read models the journal
serves: orders, fills, positions, P&L and the events themselves.

The trader does the trading: a state change or an order is written here with its journal event
in one transaction, published after the commit, and acted on by the trader at its next tick.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status

from gateway.deps import CurrentUser, SessionDep, SessionPublisherDep, require_admin
from gateway.jobs import UNAUTHENTICATED, Responses
from gateway.routes.backtests import validate_backtest
from gateway.schemas import ErrorBody
from gateway.session_schemas import (
    EventPage,
    FillPage,
    LegPnlPublic,
    OrderPage,
    PnlPublic,
    PnlSums,
    PositionPublic,
    SessionOrderCreate,
    SessionOrderPublic,
    SessionPage,
    SessionPublic,
    SpeedChange,
    StateChange,
)
from velocitas.db import sessions as store
from velocitas.db.accounts import User
from velocitas.db.journal import JournaledEvent
from velocitas.domain.session_events import SessionState
from velocitas.errors import InvalidRequest
from velocitas.sessions.spec import SessionSpec

router = APIRouter(prefix="/sessions", tags=["sessions"])

NOT_YOURS: Responses = {
    **UNAUTHENTICATED,
    404: {"model": ErrorBody, "description": "No such session (or not yours)."},
}
FORBIDDEN_NOW: Responses = {
    **NOT_YOURS,
    409: {"model": ErrorBody, "description": "The session's state forbids it."},
}
Admin = Annotated[User, Depends(require_admin)]


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {
            "description": "Created (state `created`); `Location` names it. Start it with "
            "`POST /sessions/{id}/start`.",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **UNAUTHENTICATED,
    },
)
def create_session(
    spec: SessionSpec, user: CurrentUser, db: SessionDep, response: Response
) -> SessionPublic:
    """Validate the spec as a backtest's (strategies' bounds, stored bars of every leg in
    [start, end), registered models) and record the session, `created`."""
    validate_backtest(db, spec)
    name = spec.name or ", ".join(f"{leg.strategy.name} on {leg.symbol}" for leg in spec.legs)
    row = store.create_session(db, user.id, spec.model_dump(mode="json"), name=name[:128])
    db.commit()
    response.headers["Location"] = f"/sessions/{row.id}"
    return SessionPublic.of(row)


@router.get("", responses=UNAUTHENTICATED)
def list_sessions(
    user: CurrentUser,
    db: SessionDep,
    state: Annotated[SessionState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SessionPage:
    """The caller's sessions, newest first, a page at a time."""
    rows = store.list_sessions(
        db, user.id, state=state, limit=limit + 1, after=_decode_cursor(cursor)
    )
    return SessionPage(
        items=[SessionPublic.of(row) for row in rows[:limit]],
        next_cursor=_encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
    )


@router.post(
    "/kill-all",
    responses={
        **UNAUTHENTICATED,
        403: {"model": ErrorBody, "description": "Only an admin may."},
    },
)
def kill_all_sessions(
    admin: Admin,
    db: SessionDep,
    publisher: SessionPublisherDep,
    change: Annotated[StateChange | None, Body()] = None,
) -> list[SessionPublic]:
    """The global kill switch: kill every running or paused session of every user (their
    traders flatten every position at the next tick and halt). Answers the killed sessions."""
    reason = (change and change.reason) or f"global kill switch by {admin.name}"
    killed = store.kill_all(db, reason)
    db.commit()
    for _row, journaled in killed:
        publisher.events(journaled)
    return [SessionPublic.of(row) for row, _ in killed]


@router.get("/{session_id}", responses=NOT_YOURS)
def read_session(session_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> SessionPublic:
    """The session: spec, state and why, replay clock, progress and journal head."""
    return SessionPublic.of(store.get_owned_session(db, session_id, user.id))


_ACTION_DOCS = {
    "start": "Start a `created` session: a trader claims it and replays from `start`.",
    "pause": "Pause a `running` session: the replay clock stops; orders are still taken.",
    "resume": "Resume a `paused` session.",
    "stop": "Stop a running or paused session: open orders are cancelled, positions kept.",
    "kill": "Kill a created, running or paused session: orders cancelled, every position "
    "flattened at the next tick, halted.",
}
_PAST = {"start": "started", "pause": "paused", "resume": "resumed", "stop": "stopped",
         "kill": "killed"}  # fmt: skip


def _state_route(action: str) -> Callable[..., SessionPublic]:
    def change_state(
        session_id: uuid.UUID,
        user: CurrentUser,
        db: SessionDep,
        publisher: SessionPublisherDep,
        change: Annotated[StateChange | None, Body()] = None,
    ) -> SessionPublic:
        row = store.get_owned_session(db, session_id, user.id, lock=True)
        reason = (change and change.reason) or f"{_PAST[action]} by {user.name}"
        journaled = store.transition(db, row, action, reason)
        db.commit()
        publisher.events(journaled)
        return SessionPublic.of(row)

    change_state.__doc__ = _ACTION_DOCS[action]
    return change_state


for _action in store.ACTIONS:
    router.add_api_route(
        f"/{{session_id}}/{_action}",
        _state_route(_action),
        methods=["POST"],
        name=f"{_action}_session",
        response_model=SessionPublic,
        responses=FORBIDDEN_NOW,
    )


@router.post("/{session_id}/speed", responses=FORBIDDEN_NOW)
def change_session_speed(
    session_id: uuid.UUID,
    change: SpeedChange,
    user: CurrentUser,
    db: SessionDep,
    publisher: SessionPublisherDep,
) -> SessionPublic:
    """Change the replay speed of a created, running or paused session (real time x N, or
    `"max"`); the trader paces from its next tick batch on. Fills do not depend on the speed
    (manual orders aside: they enter at the tick after they are seen)."""
    row = store.get_owned_session(db, session_id, user.id, lock=True)
    speed_text = "max" if change.speed == "max" else f"x{change.speed:g}"
    reason = change.reason or f"speed set to {speed_text} by {user.name}"
    journaled = store.set_speed(db, row, change.speed, reason)
    db.commit()
    publisher.events(journaled)
    return SessionPublic.of(row)


@router.post(
    "/{session_id}/orders",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {"description": "Placed (`new`); the trader accepts or rejects it at its next tick."},
        200: {"description": "A retry: the order first placed with this `client_order_id`."},
        **NOT_YOURS,
        409: {
            "model": ErrorBody,
            "description": "The session is not running or paused, or the `client_order_id` "
            "names another order.",
        },
    },
)
def create_session_order(
    session_id: uuid.UUID,
    order: SessionOrderCreate,
    user: CurrentUser,
    db: SessionDep,
    publisher: SessionPublisherDep,
    response: Response,
) -> SessionOrderPublic:
    """Place a manual order (market or limit) in the session's manual book."""
    row = store.get_owned_session(db, session_id, user.id, lock=True)
    _check_order(order, row.spec)
    placed, journaled = store.place_order(db, row, store.ManualOrder(**order.model_dump()))
    db.commit()
    publisher.events(journaled)
    if not journaled:
        response.status_code = status.HTTP_200_OK
    return SessionOrderPublic.of(placed)


def _check_order(order: SessionOrderCreate, spec: dict[str, Any]) -> None:
    if order.type == "limit" and order.limit_price is None:
        raise InvalidRequest("a limit order needs a limit_price", field="limit_price")
    if order.type == "market" and order.limit_price is not None:
        raise InvalidRequest(
            "a market order takes no limit_price (place a limit order instead)",
            field="limit_price",
        )
    symbols = list(dict.fromkeys(leg["symbol"] for leg in spec["legs"]))
    if order.symbol not in symbols:
        raise InvalidRequest(
            f"{order.symbol!r} is not traded in this session (its symbols: {', '.join(symbols)})",
            field="symbol",
        )


@router.get("/{session_id}/orders", responses=NOT_YOURS)
def list_session_orders(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OrderPage:
    """Every order of the session, strategy and manual, newest first, a page at a time."""
    store.get_owned_session(db, session_id, user.id)
    rows = store.list_orders(db, session_id, limit=limit + 1, after=_decode_cursor(cursor))
    return OrderPage(
        items=[SessionOrderPublic.of(row) for row in rows[:limit]],
        next_cursor=_encode_cursor(rows[limit - 1]) if len(rows) > limit else None,
    )


@router.get("/{session_id}/fills", responses=NOT_YOURS)
def list_session_fills(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    after: Annotated[int, Query(ge=0, description="A journal seq: fills after it.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> FillPage:
    """The session's fills (`fill` events) in order, each with its journal `seq`."""
    store.get_owned_session(db, session_id, user.id)
    rows = store.list_fills(db, session_id, after=after, limit=limit + 1)
    return FillPage(
        items=[{"seq": seq, **event} for seq, event in rows[:limit]],
        next_after=rows[limit - 1][0] if len(rows) > limit else None,
    )


@router.get("/{session_id}/positions", responses=NOT_YOURS)
def list_session_positions(
    session_id: uuid.UUID, user: CurrentUser, db: SessionDep
) -> list[PositionPublic]:
    """Each leg's (and the manual book's, `leg` null) position per symbol after its latest
    fill; a closed one reads `flat`."""
    store.get_owned_session(db, session_id, user.id)
    return [PositionPublic.model_validate(p) for p in store.positions(db, session_id)]


@router.get("/{session_id}/pnl", responses=NOT_YOURS)
def read_session_pnl(session_id: uuid.UUID, user: CurrentUser, db: SessionDep) -> PnlPublic:
    """P&L as of the trader's latest snapshot: per leg, per symbol, per strategy and overall,
    realised and unrealised, with cash and equity (exact decimal strings)."""
    view = store.pnl(db, store.get_owned_session(db, session_id, user.id))
    return PnlPublic(
        legs=[LegPnlPublic.model_validate(leg) for leg in view.legs],
        by_symbol={k: PnlSums.model_validate(v) for k, v in view.by_symbol.items()},
        by_strategy={k: PnlSums.model_validate(v) for k, v in view.by_strategy.items()},
        realised=view.realised,
        unrealised=view.unrealised,
        total=view.total,
        cash=view.cash,
        equity=view.equity,
        at=view.at,
    )


@router.get("/{session_id}/events", responses=NOT_YOURS)
def list_session_events(
    session_id: uuid.UUID,
    user: CurrentUser,
    db: SessionDep,
    after: Annotated[int, Query(ge=0, description="A journal seq: events after it.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> EventPage:
    """The journal after `after`, oldest first, as the WebSocket sends it; `last_seq` is the
    journal's head (read on until an answer's last event has it)."""
    row = store.get_owned_session(db, session_id, user.id)
    events, last_seq = store.read_events(db, row, after=after, limit=limit)
    return EventPage(events=[_wire(event) for event in events], last_seq=last_seq)


def _wire(event: JournaledEvent) -> dict[str, Any]:
    # `velocitas.db.journal.wire_message`'s shape, as a value (it gives the encoded text).
    return {"seq": event.seq, "session": str(event.session_id), "event": event.payload}


def _encode_cursor(row: Any) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> store.Cursor | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_at, row_id = raw.split("|")
        return store.Cursor(datetime.fromisoformat(created_at), uuid.UUID(row_id))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidRequest("not a cursor from this API", field="query.cursor") from exc
