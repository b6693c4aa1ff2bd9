"""The analyst's fixtures: the bundled embedding model, loaded once per test session."""

from __future__ import annotations

import pytest

from analyst.embeddings import LocalSentenceEmbeddings, bundled_model_path
from analyst.symbols import DEFAULT_ALIASES, SymbolTagger


@pytest.fixture(scope="session")
def embeddings() -> LocalSentenceEmbeddings:
    return LocalSentenceEmbeddings(bundled_model_path())


@pytest.fixture(scope="session")
def tagger() -> SymbolTagger:
    return SymbolTagger(DEFAULT_ALIASES)
