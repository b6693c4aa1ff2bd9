"""`POST /news` (ingest), `GET /news/search` (point-in-time retrieval) and `GET /news/moves`
(unusual bars tagged with the news before them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from analyst.deps import AnalystDep, NewsWriter
from analyst.ingest import ingest_records
from analyst.moves import news_moves
from analyst.records import FieldError, NewsRecord, parse_record
from analyst.retrieval import MAX_K, search
from analyst.schemas import (
    HitPublic,
    IngestPublic,
    MovePublic,
    MovesPublic,
    NewsBatch,
    SearchPublic,
)
from analyst.store import connect
from velocitas import embedded
from velocitas.domain.symbols import SYMBOL_PATTERN
from velocitas.domain.timeframe import Timeframe
from velocitas.errors import InvalidRequest
from velocitas.timeparse import Instant, parse_duration

router = APIRouter(prefix="/news", tags=["news"])


@router.post(
    "",
    response_model=IngestPublic,
    responses={403: {"description": "the caller's role may not write news (data-writer)"}},
)
def create_news(batch: NewsBatch, analyst: AnalystDep, _writer: NewsWriter) -> IngestPublic:
    """Ingest articles: all valid or nothing stored; duplicates (url, source+headline) skipped.
    Needs the `data-writer` (or `admin`) role: news moves every user's sentiment feature."""
    records: list[NewsRecord] = []
    for index, article in enumerate(batch.articles):
        try:
            records.append(parse_record(article.model_dump()))
        except FieldError as error:
            raise InvalidRequest(
                error.reason, field=f"body.articles[{index}].{error.field}"
            ) from None
    report = ingest_records(
        "POST /news",
        records,
        embeddings=analyst.embeddings,
        tagger=analyst.tagger,
        settings=analyst.settings,
        batch_size=analyst.settings.embedding_batch_size,
        scorer=analyst.scorer,
    )
    return IngestPublic(read=report.read, inserted=report.inserted, duplicates=report.duplicates)


@router.get("/search", response_model=SearchPublic)
def search_news(
    analyst: AnalystDep,
    q: Annotated[str, Query(min_length=1, max_length=1000, description="What to look for.")],
    at: Annotated[Instant, Query(description="As of this instant; nothing later.")],
    symbol: Annotated[str | None, Query(max_length=32)] = None,
    window: Annotated[str | None, Query(description="Look-back, e.g. 3d; empty: all.")] = "3d",
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
) -> SearchPublic:
    span = parse_duration(window) if window else None
    hits = search(
        q,
        at=at,
        embeddings=analyst.embeddings,
        symbol=symbol,
        window=span,
        k=k,
        settings=analyst.settings,
        ef_search=analyst.settings.hnsw_ef_search,
    )
    return SearchPublic(
        query=q,
        at=at,
        symbol=symbol.upper() if symbol else None,
        window=window or None,
        hits=[HitPublic(**hit.as_dict()) for hit in hits],
    )


@router.get("/moves", response_model=MovesPublic)
def read_news_moves(
    analyst: AnalystDep,
    symbol: Annotated[str, Query(pattern=SYMBOL_PATTERN, description="e.g. BTCUSD.")],
    start: Annotated[Instant, Query(description="First bar opened at or after (inclusive).")],
    end: Annotated[Instant, Query(description="Bars opened before (exclusive).")],
    timeframe: Timeframe = Timeframe.H1,
    k: Annotated[float, Query(gt=0, le=100, description="Unusual: |return| > k sigma.")] = 3.0,
    lookback: Annotated[int, Query(ge=2, le=10_000, description="Returns in sigma.")] = 100,
    window: Annotated[str, Query(max_length=32, description="News before the close.")] = "1d",
) -> MovesPublic:
    """Bars whose |log return| exceeded k times the sd of the `lookback` returns before them,
    each tagged with the net stored sentiment of the symbol's news published in the `window`
    before its close: good, bad, neutral or no news (docs/analyst.md, "News-tagged moves")."""
    span = parse_duration(window, field="window")
    settings = analyst.settings
    with connect(settings) as conn:
        moves = news_moves(
            conn,
            symbol=symbol,
            timeframe=timeframe,
            start=start,
            end=end,
            k=k,
            lookback=lookback,
            window=span,
            scorer=analyst.scorer,
            database_url=embedded.database_url(settings),
        )
    return MovesPublic(
        symbol=symbol,
        timeframe=timeframe.value,
        start=start,
        end=end,
        k=k,
        lookback=lookback,
        window=window,
        moves=[MovePublic(**move.as_dict()) for move in moves],
    )
