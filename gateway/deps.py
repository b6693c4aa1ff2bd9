"""Dependencies shared by the routes, as aliases that read like prose in route signatures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import GatewaySettings, get_gateway_settings
from velocitas.db.accounts import User
from velocitas.db.engine import connect, get_engine
from velocitas.domain.roles import Role
from velocitas.key_guard import scope_user
from velocitas.sessions.publisher import NullPublisher, SessionPublisher

__all__ = [
    "ConnectionDep",
    "CurrentUser",
    "SessionDep",
    "SessionPublisherDep",
    "SettingsDep",
    "get_connection",
    "get_session",
    "require_admin",
    "require_data_writer",
    "require_role",
    "require_user",
    "session_publisher",
]

SettingsDep = Annotated[GatewaySettings, Depends(get_gateway_settings)]


def get_connection(settings: SettingsDep) -> Iterator[psycopg.Connection]:
    """One database connection per request, closed (and its transaction rolled back) after."""
    with connect(settings) as conn:
        yield conn


ConnectionDep = Annotated[psycopg.Connection, Depends(get_connection)]

_bearer = HTTPBearer(auto_error=False, description="An API key from `velocitas user create`.")


def get_session() -> Iterator[Session]:
    """A session for one request. Routes commit explicitly: a job must be committed before its
    id is sent to the queue, so the commit cannot wait for the end of the request."""
    factory = sessionmaker(get_engine(), expire_on_commit=False)
    with factory() as session:
        yield session


async def require_user(
    request: Request,
    # Declared so the OpenAPI schema shows the bearer scheme; the guard has read it already.
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The caller named by `Authorization: Bearer <key>`, as `KeyGuard` (which refuses a bad key
    before the body is read) authenticated it; 401 where no guard did. `async`, so taking the
    user costs no thread-pool hop."""
    user = scope_user(request.scope)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or invalid API key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


SessionDep = Annotated[Session, Depends(get_session)]
CurrentUser = Annotated[User, Depends(require_user)]


def require_role(needed: Role, action: str) -> Callable[[User], User]:
    """A dependency: the caller (401 without a valid key) if their role grants `needed`, else
    403 saying which roles may do `action`. It runs before the route reads the body, so a
    refused upload is never read."""

    def caller_with_role(user: CurrentUser) -> User:
        refusal = user.role.refusal(user.name, needed, action)
        if refusal is not None:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=refusal)
        return user

    return caller_with_role


require_data_writer = require_role(Role.DATA_WRITER, "writing the shared market data")
"""The caller, if they may write the market data every user's backtests read."""


require_admin = require_role(Role.ADMIN, "the global kill switch of trading sessions")
"""The caller, if they are an admin."""


def session_publisher() -> SessionPublisher:
    """Where the gateway announces the session events it journals, after each commit.
    Nothing is published yet: subscribers read the journal (`GET /sessions/{id}/events`)."""
    return NullPublisher()


SessionPublisherDep = Annotated[SessionPublisher, Depends(session_publisher)]
