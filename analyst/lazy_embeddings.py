"""`LazyEmbeddings`: the configured embedding model, loaded on the first text to embed.

Loading the model (ONNX Runtime or torch, the weights) takes seconds, and LangChain's
`Embeddings` base class alone costs about a quarter of a second to import (its async helpers
pull in LangChain's callbacks and LangSmith's client). Commands and services hold a
`LazyEmbeddings`, so a command with nothing to embed imports neither: this module imports
nothing of LangChain. It implements LangChain's `Embeddings` interface (`embed_documents`,
`embed_query` and their async twins) and is registered as a virtual subclass of it whenever
`analyst.embeddings` (which every model comes from) is imported, so `isinstance(lazy,
Embeddings)` holds wherever LangChain is in use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from analyst.settings import AnalystSettings

    _Interface = Embeddings  # what the type checker holds it to
else:
    _Interface = object  # at run time: registered instead (see the module doc)

__all__ = ["LazyEmbeddings"]


class LazyEmbeddings(_Interface):
    """The configured model (`analyst.embeddings.load_embeddings(settings)`), loaded on first
    use, once, by one thread while others wait. Configuration errors surface at that first use."""

    def __init__(self, settings: AnalystSettings) -> None:
        self.settings = settings
        self._model: Embeddings | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> Embeddings:
        """The loaded model (loading it now if needed)."""
        from analyst.embeddings import load_embeddings

        with self._lock:
            if self._model is None:
                self._model = load_embeddings(self.settings)
            return self._model

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.load().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.load().embed_query(text)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self.load().aembed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return await self.load().aembed_query(text)
