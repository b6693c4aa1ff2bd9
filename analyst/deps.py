"""What the analyst's routes depend on: one `SentimentAnalyst` per app (model loaded once), and
the caller `KeyGuard` authenticated, for the routes that write news every user's sentiment
reads."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from analyst.sentiment import SentimentAnalyst
from velocitas.db.accounts import User
from velocitas.domain.roles import Role
from velocitas.key_guard import scope_user


def get_analyst(request: Request) -> SentimentAnalyst:
    analyst: SentimentAnalyst = request.app.state.analyst_factory()
    return analyst


AnalystDep = Annotated[SentimentAnalyst, Depends(get_analyst)]


def require_news_writer(request: Request) -> User:
    """The caller, if their role may write news: articles move the sentiment feature of every
    user's backtests, like bars move their prices (docs/data.md, "Who may write market data")."""
    user = scope_user(request.scope)
    if user is None:  # KeyGuard refuses a request without a valid key before it gets here
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="missing or invalid API key")
    refusal = user.role.refusal(user.name, Role.DATA_WRITER, "writing the shared news")
    if refusal is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=refusal)
    return user


NewsWriter = Annotated[User, Depends(require_news_writer)]
