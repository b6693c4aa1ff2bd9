"""What the analyst's routes depend on: one `SentimentAnalyst` per app (model loaded once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from analyst.sentiment import SentimentAnalyst


def get_analyst(request: Request) -> SentimentAnalyst:
    analyst: SentimentAnalyst = request.app.state.analyst_factory()
    return analyst


AnalystDep = Annotated[SentimentAnalyst, Depends(get_analyst)]
