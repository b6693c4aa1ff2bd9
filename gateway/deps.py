"""Dependencies shared by the routes, as aliases that read like prose in route signatures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import psycopg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from gateway.settings import GatewaySettings, get_gateway_settings
from velocitas.db.accounts import User
from velocitas.db.engine import connect, get_engine
from velocitas.key_guard import scope_user

__all__ = [
    "ConnectionDep",
    "CurrentUser",
    "SessionDep",
    "SettingsDep",
    "get_connection",
    "get_session",
    "require_user",
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
