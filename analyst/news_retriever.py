"""`NewsRetriever`: LangChain's retriever interface over `analyst.retrieval.search`.

Its own module because LangChain's retriever base class imports its tracers and LangSmith's
client (about half a second): the analyst's commands and routes search through
`analyst.retrieval` directly and never pay for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from analyst.retrieval import search
from velocitas.settings import Settings

__all__ = ["NewsRetriever"]


class NewsRetriever(BaseRetriever):
    """LangChain retriever over `search`: point-in-time as of `at`, optionally one symbol."""

    embeddings: Embeddings
    at: datetime
    symbol: str | None = None
    window: timedelta | None = None
    k: int = 10
    database_url: str | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        settings = Settings(database_url=self.database_url) if self.database_url else None
        hits = search(
            query,
            at=self.at,
            embeddings=self.embeddings,
            symbol=self.symbol,
            window=self.window,
            k=self.k,
            settings=settings,
        )
        return [
            Document(
                page_content=f"{hit.headline}\n{hit.body}".strip(),
                metadata=hit.as_dict() | {"published_at": hit.published_at},
                id=str(hit.id),
            )
            for hit in hits
        ]
