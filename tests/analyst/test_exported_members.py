"""Each analyst module's `__all__` is sorted and names only what the module defines."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "analyst.embeddings",
    "analyst.features",
    "analyst.ingest",
    "analyst.lazy_embeddings",
    "analyst.news_retriever",
    "analyst.records",
    "analyst.retrieval",
    "analyst.scorers",
    "analyst.sentiment",
    "analyst.settings",
    "analyst.symbols",
]


@pytest.mark.parametrize("name", MODULES)
def test_module_all_is_sorted_and_defined(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported)
    for member in exported:
        assert hasattr(module, member), member
        value = getattr(module, member)
        assert getattr(value, "__module__", name) == name, member
