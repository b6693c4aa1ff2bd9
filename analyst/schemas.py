"""The analyst's HTTP contract: request and response bodies."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field

from velocitas.timeparse import Instant


class NewsCreate(BaseModel):
    """One article. `published_at` must carry a time zone; `symbols` empty: tagged from aliases."""

    headline: str = Field(min_length=1, max_length=1000)
    body: str = ""
    url: str | None = Field(default=None, max_length=2000)
    source: str = Field(min_length=1, max_length=200)
    published_at: Instant
    symbols: list[str] = Field(default_factory=list, max_length=50)


class NewsBatch(BaseModel):
    articles: list[NewsCreate] = Field(min_length=1, max_length=1000)


class IngestPublic(BaseModel):
    read: int
    inserted: int
    duplicates: int


class HitPublic(BaseModel):
    id: int
    url: str
    headline: str
    body: str
    source: str
    published_at: Instant
    symbols: list[str]
    similarity: float
    relevance: float


class SearchPublic(BaseModel):
    query: str
    at: AwareDatetime
    symbol: str | None
    window: str | None
    hits: list[HitPublic]


class SentimentPublic(BaseModel):
    symbol: str
    at: AwareDatetime
    score: float = Field(ge=-1, le=1)
    n_docs: int
    method: str


class MoveArticlePublic(BaseModel):
    id: int
    headline: str
    source: str
    published_at: AwareDatetime
    score: float


class MovePublic(BaseModel):
    """One unusual bar: |log_return| > k sigma, and the news before its close."""

    opened_at: AwareDatetime
    closed_at: AwareDatetime
    log_return: float
    sigma: float
    z: float
    direction: str
    n_docs: int
    net_sentiment: float | None
    tag: str = Field(description='"good news", "bad news", "neutral news" or "no news".')
    agrees: bool | None
    articles: list[MoveArticlePublic]


class MovesPublic(BaseModel):
    symbol: str
    timeframe: str
    start: AwareDatetime
    end: AwareDatetime
    k: float
    lookback: int
    window: str
    moves: list[MovePublic]
