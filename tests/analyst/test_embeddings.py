from __future__ import annotations

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from analyst.embeddings import LocalSentenceEmbeddings, embed_texts, load_embeddings
from analyst.lazy_embeddings import LazyEmbeddings
from analyst.settings import AnalystSettings
from velocitas.errors import ConfigurationError


class TinyEmbeddings(Embeddings):
    """A stand-in for a hosted model: 10 dimensions, unnormalised."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t))] * 10 for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class WideEmbeddings(TinyEmbeddings):
    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t))] * 384 for t in texts]


def tiny() -> Embeddings:
    return TinyEmbeddings()


def wide() -> Embeddings:
    return WideEmbeddings()


def test_local_embeddings_are_unit_384_and_query_matches_documents(
    embeddings: LocalSentenceEmbeddings,
) -> None:
    vectors = np.asarray(embeddings.embed_documents(["Apple beats estimates", "Bitcoin falls"]))
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embeddings.embed_query("Bitcoin falls"), vectors[1], atol=1e-5)


def test_embed_texts_reports_each_batch(embeddings: LocalSentenceEmbeddings) -> None:
    seen: list[int] = []
    vectors = embed_texts(
        embeddings, [f"headline {i}" for i in range(5)], batch_size=2, progress=seen.append
    )
    assert seen == [2, 2, 1]
    assert vectors.shape == (5, 384)


def test_embed_texts_normalises_other_models() -> None:
    vectors = embed_texts(WideEmbeddings(), ["a", "bcd"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_load_embeddings_factory_is_used_when_dimension_matches() -> None:
    model = load_embeddings(AnalystSettings(embedding_model=f"python:{__name__}:wide"))
    assert isinstance(model, WideEmbeddings)


def test_load_embeddings_refuses_dimension_other_than_column() -> None:
    with pytest.raises(ConfigurationError, match="vector\\(384\\)"):
        load_embeddings(AnalystSettings(embedding_model=f"python:{__name__}:tiny"))


def test_load_embeddings_refuses_unknown_model() -> None:
    with pytest.raises(ConfigurationError):
        load_embeddings(AnalystSettings(embedding_model="/no/such/model"))


def test_lazy_embeddings_load_on_first_embedding_only() -> None:
    lazy = LazyEmbeddings(AnalystSettings(embedding_model=f"python:{__name__}:wide"))
    assert not lazy.loaded
    assert embed_texts(lazy, []).shape == (0, 384)
    assert not lazy.loaded  # nothing to embed: nothing loaded
    assert np.allclose(embed_texts(lazy, ["a", "bcd"]), embed_texts(WideEmbeddings(), ["a", "bcd"]))
    assert lazy.loaded
    assert lazy.load() is lazy.load()


def test_lazy_embeddings_report_configuration_errors_at_first_use() -> None:
    lazy = LazyEmbeddings(AnalystSettings(embedding_model=f"python:{__name__}:tiny"))
    with pytest.raises(ConfigurationError, match="vector\\(384\\)"):
        lazy.embed_query("x")


def test_lazy_embeddings_are_langchain_embeddings() -> None:
    """Not a subclass at run time (LangChain stays out of commands with nothing to embed), but
    registered: LangChain's pydantic fields typed `Embeddings` accept it."""
    from analyst.news_retriever import NewsRetriever

    lazy = LazyEmbeddings(AnalystSettings(embedding_model=f"python:{__name__}:wide"))
    assert isinstance(lazy, Embeddings)
    retriever = NewsRetriever(embeddings=lazy, at="2024-01-02T00:00:00Z")
    assert retriever.embeddings is lazy
