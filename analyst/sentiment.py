"""`score(symbol, at)`: the sentiment of recent news about a symbol, as of an instant.

1. Retrieve (point-in-time, exact) up to `max_docs` articles tagged with `symbol` and published
   in `[at - window, at]`, ranked by similarity to a query naming the symbol and its aliases.
2. Score each article's headline with the configured scorer (offline VADER + finance lexicon by
   default; an LLM when `LLM_MODEL` is set, falling back to the offline scorer).
3. Combine: weight_i = max(similarity_i, 0) × 0.5 ** (age_i / half_life), score = Σ w·s / Σ w,
   clamped to [-1, 1]. The default half-life is 24 hours: yesterday's news counts half as much
   as news published now. No article: score 0 and n_docs 0 (never an error).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg

from analyst.lazy_embeddings import LazyEmbeddings
from analyst.retrieval import Hit, any_news, search_vector
from analyst.scorers import ArticleScorer, FinanceVaderScorer, LlmScorer
from analyst.settings import AnalystSettings, get_analyst_settings
from analyst.symbols import SymbolTagger, load_tagger
from velocitas.errors import ConfigurationError
from velocitas.timeparse import parse_duration

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

__all__ = [
    "SentimentAnalyst",
    "SentimentScore",
    "combine",
    "default_analyst",
    "load_scorer",
    "score",
]


@dataclass(frozen=True, slots=True)
class SentimentScore:
    score: float
    n_docs: int
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), "n_docs": self.n_docs, "method": self.method}


def combine(
    scores: Sequence[float],
    similarities: Sequence[float],
    ages_hours: Sequence[float],
    *,
    half_life_hours: float,
) -> float:
    """Similarity- and recency-weighted mean of `scores`, in [-1, 1]; 0 for no scores."""
    if not scores:
        return 0.0
    s = np.asarray(scores, dtype=np.float64)
    weights = np.clip(np.asarray(similarities, dtype=np.float64), 0.0, None) * np.power(
        0.5, np.clip(np.asarray(ages_hours, dtype=np.float64), 0.0, None) / half_life_hours
    )
    total = weights.sum()
    value = float((weights * s).sum() / total) if total > 0 else float(s.mean())
    return max(-1.0, min(1.0, value))


class SentimentAnalyst:
    """Scores symbols as of instants; caches query vectors and per-article scores."""

    def __init__(
        self,
        *,
        embeddings: Embeddings,
        scorer: ArticleScorer,
        tagger: SymbolTagger,
        settings: AnalystSettings,
    ) -> None:
        self.embeddings = embeddings
        self.scorer = scorer
        self.tagger = tagger
        self.settings = settings
        self.window = parse_duration(settings.sentiment_window, field="sentiment_window")
        self._queries: dict[str, np.ndarray] = {}
        self._article_scores: dict[int, float] = {}

    def score(
        self, symbol: str, at: datetime, *, conn: psycopg.Connection | None = None
    ) -> SentimentScore:
        return self.combine_hits(self.relevant_news(symbol, at, conn=conn), at)

    def relevant_news(
        self, symbol: str, at: datetime, *, conn: psycopg.Connection | None = None
    ) -> list[Hit]:
        """The articles `score` combines: point-in-time, tagged `symbol`, within the window."""
        symbol = symbol.upper()
        if not any_news(
            at=at, symbol=symbol, window=self.window, conn=conn, settings=self.settings
        ):
            return []  # nothing to rank: the query is not embedded, the model not loaded
        return search_vector(
            self._query_vector(symbol),
            at=at,
            symbol=symbol,
            window=self.window,
            k=self.settings.sentiment_max_docs,
            conn=conn,
            settings=self.settings,
        )

    def combine_hits(self, hits: Sequence[Hit], at: datetime) -> SentimentScore:
        """Score `hits` (published at or before `at`) as of `at`."""
        ages = [(at - hit.published_at) / timedelta(hours=1) for hit in hits]
        value = combine(
            self._scores(hits),
            [hit.similarity for hit in hits],
            ages,
            half_life_hours=self.settings.sentiment_half_life_hours,
        )
        return SentimentScore(score=value, n_docs=len(hits), method=self.scorer.method)

    def _query_vector(self, symbol: str) -> np.ndarray:
        from analyst.embeddings import embed_query  # the model's stack: only when embedding

        if symbol not in self._queries:
            names = " ".join(self.tagger.names_of(symbol))
            self._queries[symbol] = embed_query(self.embeddings, f"{names} stock price news")
        return self._queries[symbol]

    def _scores(self, hits: Sequence[Hit]) -> list[float]:
        missing = [hit for hit in hits if hit.id not in self._article_scores]
        if missing:
            values = self.scorer.score_texts([hit.headline for hit in missing])
            self._article_scores.update(zip((hit.id for hit in missing), values, strict=True))
        return [self._article_scores[hit.id] for hit in hits]


def load_scorer(settings: AnalystSettings) -> ArticleScorer:
    """The offline scorer, or the configured LLM (`python:module:factory`) backed by it."""
    offline = FinanceVaderScorer()
    if not settings.llm_model:
        return offline
    spec = settings.llm_model.removeprefix("python:")
    module_name, _, attribute = spec.partition(":")
    try:
        model = getattr(importlib.import_module(module_name), attribute)()
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"LLM_MODEL={settings.llm_model!r}: {exc}") from exc
    return LlmScorer(model, fallback=offline, name=attribute)


@lru_cache
def default_analyst() -> SentimentAnalyst:
    """The configured analyst (embedding model, scorer, aliases), built once per process; the
    embedding model loads when something must first be embedded."""
    settings = get_analyst_settings()
    return SentimentAnalyst(
        embeddings=LazyEmbeddings(settings),
        scorer=load_scorer(settings),
        tagger=load_tagger(settings.symbol_aliases),
        settings=settings,
    )


def score(symbol: str, at: datetime, *, analyst: SentimentAnalyst | None = None) -> SentimentScore:
    """The sentiment of `symbol` as of `at` (see the module docstring for the method)."""
    return (analyst or default_analyst()).score(symbol, at)
