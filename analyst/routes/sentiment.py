"""`GET /sentiment?symbol=&at=`: the same score the feature series stores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from analyst.deps import AnalystDep
from analyst.schemas import SentimentPublic
from velocitas.timeparse import Instant

router = APIRouter(tags=["sentiment"])


@router.get("/sentiment", response_model=SentimentPublic)
def read_sentiment(
    analyst: AnalystDep,
    symbol: Annotated[str, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._\-]+$")],
    at: Annotated[Instant, Query(description="As of this instant; nothing later.")],
) -> SentimentPublic:
    result = analyst.score(symbol, at)
    return SentimentPublic(
        symbol=symbol.upper(), at=at, score=result.score, n_docs=result.n_docs, method=result.method
    )
